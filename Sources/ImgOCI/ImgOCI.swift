// ImgOCI: OCI and docker value types: digests, media types, descriptors, manifests, indexes, image configs,
// platforms and references.
