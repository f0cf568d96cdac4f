// ImgFrontend: The translation of a build plan into a graph of typed ops (image source, exec, file copy and mkdir,
// merge, config change), each op declaring what its cache key is made of.
