package import ImgErrors

/// A request the engine cannot carry out as given (a malformed output or secret, a missing file, an image
/// of another platform): one line naming the flag, file or image.
package struct RequestError: ImgError, Hashable {
    package var message: String

    package init(_ message: String) { self.message = message }

    package var description: String { message }
    package var errorCode: String { "invalid-request" }
}
