// ImgExport: Build outputs: one exporter per destination (image store and registry push, oci and docker archives,
// a local directory, a rootfs tar) over the same exported images, and docker archives read and written in one place.
