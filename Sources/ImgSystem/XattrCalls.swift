import Glibc

/// glibc's `l*xattr` functions. Swift's Glibc module does not include `<sys/xattr.h>` and ImgSystem has no
/// C shim target yet, so they are looked up once by name in the already-loaded libc.
enum XattrCalls {
    typealias List = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias Get = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeMutableRawPointer?, Int) -> Int
    typealias Set = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafeRawPointer?, Int, Int32) -> Int32
    typealias Remove = @convention(c) (UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32

    nonisolated(unsafe) private static let libc = dlopen(nil, RTLD_NOW)

    private static func load<T>(_ name: String, as type: T.Type) -> T {
        guard let symbol = dlsym(libc, name) else { fatalError("libc has no \(name)") }
        return unsafeBitCast(symbol, to: type)
    }

    typealias FileList = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias FileGet = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeMutableRawPointer?, Int) -> Int
    typealias FileSet = @convention(c) (Int32, UnsafePointer<CChar>?, UnsafeRawPointer?, Int, Int32) -> Int32

    static let list = load("llistxattr", as: List.self)
    static let fileList = load("flistxattr", as: FileList.self)
    static let fileGet = load("fgetxattr", as: FileGet.self)
    static let fileSet = load("fsetxattr", as: FileSet.self)
    static let get = load("lgetxattr", as: Get.self)
    static let set = load("lsetxattr", as: Set.self)
    static let remove = load("lremovexattr", as: Remove.self)
}
