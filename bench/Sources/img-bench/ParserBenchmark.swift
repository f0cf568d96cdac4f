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
        var metadataLines: Int?
        var index = 0
        while index < options.count {
            let value = index + 1 < options.count ? Int(options[index + 1]) : nil
            switch options[index] {
            case "--instructions": instructions = value ?? instructions
            case "--iterations": iterations = value ?? iterations
            case "--metadata-lines": metadataLines = value ?? 100_000
            default: usage()
            }
            index += 2
        }
        if let metadataLines {
            planMetadata(lines: max(metadataLines, 1))
            return
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
        var cpuTotal = 0.0
        for _ in 0..<iterations {
            let cpuStart = threadCPUSeconds()
            let start = clock.now
            let parsed = try? DockerfileParser.parse(input)
            let elapsed = clock.now - start
            cpuTotal += threadCPUSeconds() - cpuStart
            precondition(parsed?.nodes.count == nodeCount)
            total += elapsed
            best = min(best, elapsed)
        }
        let mean = total / iterations
        let cpuMean = cpuTotal / Double(iterations)
        let megabytes = Double(input.count) / 1_000_000
        print("parser: \(input.count) bytes, \(nodeCount) instructions, \(iterations) iterations")
        print("  mean \(format(milliseconds(mean))) ms/parse, \(format(megabytes / seconds(mean))) MB/s (wall)")
        print("  best \(format(milliseconds(best))) ms/parse, \(format(megabytes / seconds(best))) MB/s (wall)")
        // CPU time of this thread: what the parser costs when other processes share the cores.
        print("  cpu  \(format(cpuMean * 1000)) ms/parse, \(format(megabytes / cpuMean)) MB/s (thread CPU time, mean)")
    }

    /// Parses and plans one file of `lines` ENV and LABEL instructions, each using the previous value, and
    /// reports CPU time and the process's peak memory: what `img build --check` spends on a long file.
    /// Run it in a fresh process; the peak includes whatever ran before.
    static func planMetadata(lines: Int) {
        var text = "FROM scratch\n"
        for i in 0..<lines { text += (i % 2 == 0 ? "ENV" : "LABEL") + " V\(i)=$V\(max(i - 2, 0))\n" }
        let input = Array(text.utf8)
        let before = peakKilobytes()
        let cpuStart = threadCPUSeconds()
        let plan: BuildPlan
        do {
            plan = try BuildPlanner.plan(try DockerfileParser.parse(input))
        } catch {
            print("plan failed: \(error)")
            exit(1)
        }
        let cpu = threadCPUSeconds() - cpuStart
        print("plan: \(input.count) bytes, \(plan.target.instructions.count) ENV/LABEL instructions")
        print("  cpu  \(format(cpu * 1000)) ms (thread CPU time)")
        print("  peak \(format(Double(peakKilobytes()) / 1024)) MiB (max RSS; \(format(Double(before) / 1024)) MiB before)")
    }

    private static func peakKilobytes() -> Int {
        var usage = rusage()
        #if canImport(Glibc)
        // Glibc imports RUSAGE_SELF as an enum case; the call takes its raw value. Linux counts KiB.
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Int(usage.ru_maxrss)
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Int(usage.ru_maxrss) / 1024  // bytes on Darwin
        #endif
    }

    private static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
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
