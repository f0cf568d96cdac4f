// ImgContext: The build context as COPY and ADD see it: source selection (`.dockerignore`, wildcards, `--exclude`,
// `--parents`), content checksums with their persistent cache, and the copy into a rootfs.
