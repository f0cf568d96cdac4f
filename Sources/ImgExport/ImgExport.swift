// ImgExport: Build outputs: one exporter per destination (image store and registry push, oci and docker archives,
// a local directory, a rootfs tar) over the same exported images, docker archives read and written in one place,
// and the build cache in a directory, a registry or an image's config (exported whole, imported record by record).
