// ImgRuntime: RUN steps as OCI runtime bundles (capabilities, seccomp, mounts, rootless adjustments) and their
// execution through runc.
