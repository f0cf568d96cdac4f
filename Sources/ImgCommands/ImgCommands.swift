// ImgCommands: The command line: one file per `img` subcommand, each mapping its flags onto an `Img` request and
// printing the result.
