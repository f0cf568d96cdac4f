// ImgRegistry: The distribution API client: authentication, pulls and pushes of blobs and manifests, retries and
// mirrors.
