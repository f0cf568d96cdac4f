package import ImgErrors

/// An invalid OCI value (digest, reference, platform, document). `description` is one line naming the value.
package struct OCIError: ImgError, Hashable {
    package var code: String
    package var message: String
    package init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }
    package var description: String { message }
    package var errorCode: String { code }
}
