// ImgSnapshot: Filesystem snapshots by chain id (kernel overlayfs, fuse-overlayfs, native copies), writable
// workspaces over them, and their diffs into layers.
