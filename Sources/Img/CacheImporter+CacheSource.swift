import ImgExport
import ImgWorker

/// An imported cache (a directory or a registry's) is one of the sources the worker asks on a local miss.
extension CacheImporter: CacheSource {}
