import ImgCommands

/// The executable is only this: every command lives in ImgCommands so tests can drive it in-process.
@main
extension ImgCommand {}
