// Benchmarks, one subcommand each: `img-bench <name> [options]`. Run in release:
// `swift run -c release img-bench parser`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())

func usage() -> Never {
    print("usage: img-bench parser [--instructions N] [--iterations N]")
    exit(2)
}

switch arguments.first {
case "parser":
    ParserBenchmark.run(Array(arguments.dropFirst()))
default:
    usage()
}
