#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ImgDockerfile

/// Parses a generated Dockerfile repeatedly and reports the throughput.
enum ParserBenchmark {
    static func run(_ options: [String]) {
        var instructions = 5000
        var iterations = 200
        var index = 0
        while index < options.count {
            let value = index + 1 < options.count ? Int(options[index + 1]) : nil
            switch options[index] {
            case "--instructions": instructions = value ?? instructions
            case "--iterations": iterations = value ?? iterations
            default: usage()
            }
            index += 2
        }
        instructions = max(instructions, 1)
        iterations = max(iterations, 1)

        let input = Array(makeDockerfile(instructions: instructions).utf8)
        var nodeCount = 0
        // Warm up (and check the input parses at all).
        do {
            nodeCount = try DockerfileParser.parse(input).nodes.count
        } catch {
            print("parse failed: \(error)")
            exit(1)
        }

        let clock = ContinuousClock()
        var best = Duration.seconds(1_000_000)
        var total = Duration.zero
        for _ in 0..<iterations {
            let start = clock.now
            let parsed = try? DockerfileParser.parse(input)
            let elapsed = clock.now - start
            precondition(parsed?.nodes.count == nodeCount)
            total += elapsed
            best = min(best, elapsed)
        }
        let mean = total / iterations
        let megabytes = Double(input.count) / 1_000_000
        print("parser: \(input.count) bytes, \(nodeCount) instructions, \(iterations) iterations")
        print("  mean \(format(milliseconds(mean))) ms/parse, \(format(megabytes / seconds(mean))) MB/s")
        print("  best \(format(milliseconds(best))) ms/parse, \(format(megabytes / seconds(best))) MB/s")
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1000 }

    private static func format(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return "\(scaled)"
    }

    /// A Dockerfile with the mix real ones have: stages, RUN with continuations and heredocs, COPY with
    /// flags, ENV/LABEL pairs, ARG, exec-form CMD, comments and blank lines.
    static func makeDockerfile(instructions: Int) -> String {
        var text = "# syntax=docker/dockerfile:1\n# check=skip=JSONArgsRecommended\n\n"
        var count = 0
        var stage = 0
        while count < instructions {
            switch count % 10 {
            case 0:
                text += "\n# stage \(stage)\nFROM --platform=$BUILDPLATFORM golang:1.22-alpine AS build\(stage)\n"
                stage += 1
            case 1:
                text += "ARG VERSION=\"1.2.\(count)\" TARGETOS TARGETARCH\n"
            case 2:
                text += "ENV GOPATH=/go PATH=\"/go/bin:$PATH\" CGO_ENABLED=0 LABEL_\(count)='value with spaces'\n"
            case 3:
                text += """
                RUN --mount=type=cache,target=/var/cache/apk \\
                    apk add --no-cache git make gcc musl-dev \\
                    # comment inside a continuation
                    && rm -rf /tmp/* \\
                    && echo "step \(count)"

                """
            case 4:
                text += "COPY --from=build\(max(stage - 2, 0)) --chown=1000:1000 [\"/src/out\", \"/usr/local/bin/app\"]\n"
            case 5:
                text += """
                RUN <<EOF
                set -eux
                go build -o /out/app\(count) ./cmd/app
                echo done
                EOF

                """
            case 6:
                text += """
                COPY <<-CONFIG /etc/app/config\(count).yaml
                \tname: app
                \tport: 80\(count % 10)
                \tCONFIG

                """
            case 7:
                text += "LABEL org.opencontainers.image.version=\"$VERSION\" maintainer=\"team@example.com\"\n"
            case 8:
                text += "WORKDIR /app/\(count)\nUSER 1000:1000\n"
                count += 1
            default:
                text += "HEALTHCHECK --interval=30s --timeout=3s CMD [\"/usr/local/bin/app\", \"health\"]\n"
                text += "CMD [\"/usr/local/bin/app\", \"--port\", \"8080\"]\n"
                count += 1
            }
            count += 1
        }
        return text
    }
}
