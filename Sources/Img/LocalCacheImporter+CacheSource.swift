import ImgExport
import ImgWorker

/// A cache directory is one of the sources the worker asks on a local miss.
extension LocalCacheImporter: CacheSource {}
