// ImgSystem: The system calls everything else needs: file locks, mounts, user namespaces (through the C shim),
// paths resolved inside a root, child processes, users and groups.
