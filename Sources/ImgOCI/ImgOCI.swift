// ImgOCI: OCI and docker value types: digests, media types, descriptors, manifests, indexes, image configs,
// platforms, references and BuildKit's build cache config (in a cache manifest or inline in an image config).
