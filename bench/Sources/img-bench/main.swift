// Benchmarks, one subcommand each: `img-bench <name> [options]`. Run in release:
// `swift run -c release img-bench parser`.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let arguments = Array(CommandLine.arguments.dropFirst())

func usage() -> Never {
    print("usage: img-bench parser [--instructions N] [--iterations N] | [--metadata-lines 100000]")
    print("       img-bench layers [--megabytes 200] [--files 20000] [--dir /var/tmp] [--export-only|--no-export] [--backends native,overlayfs,...]   (as root)")
    exit(2)
}

switch arguments.first {
case "parser":
    ParserBenchmark.run(Array(arguments.dropFirst()))
case "layers":
    await LayerBenchmark.run(Array(arguments.dropFirst()))
default:
    usage()
}
