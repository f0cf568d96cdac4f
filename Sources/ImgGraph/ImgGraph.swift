// ImgGraph: The build graph, the concurrent solver that runs each vertex once, and the cache-key builder.
