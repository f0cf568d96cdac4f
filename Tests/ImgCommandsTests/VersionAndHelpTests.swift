import ImgCommands
import Testing
import ImgTestSupport

@Suite struct VersionAndHelpTests {
    @Test(arguments: [["-v"], ["--version"]])
    func versionFlag(_ args: [String]) throws {
        let r = try ImgBinary.run(args)
        #expect(r.status == 0)
        #expect(r.stdout.hasPrefix("img version 0.1.0-dev, commit "))
        #expect(r.stdout.contains(", swift 6."))
        #expect(!r.stdout.contains("commit unknown"), "the build should record the git commit")
    }

    @Test func versionCommand() throws {
        let r = try ImgBinary.run(["version"])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "version     : 0.1.0-dev")
        #expect(lines.contains { $0.hasPrefix("git commit  : ") && $0.count > "git commit  : ".count })
        #expect(lines.contains { $0.hasPrefix("swift       : 6.") })
        #expect(lines.contains { $0.hasPrefix("platform    : linux/") })
    }

    @Test func helpListsOnlyWorkingCommands() throws {
        let r = try ImgBinary.run(["--help"])
        #expect(r.status == 0)
        let afterHeader = r.stdout.components(separatedBy: "SUBCOMMANDS:\n").last ?? ""
        let subcommands = afterHeader.components(separatedBy: "\n\n").first ?? ""
        let names = subcommands.split(separator: "\n").compactMap { line -> String? in
            let t = line.drop { $0 == " " }
            guard line.hasPrefix("  "), !line.hasPrefix("    "), let word = t.split(separator: " ").first else { return nil }
            return String(word.filter { $0 != "," })
        }
        #expect(names == ["build", "du", "inspect", "load", "login", "logout", "ls", "prune", "pull", "push", "rm", "save", "tag", "unpack", "version"])
        for flag in ["-b, --backend", "-d, --debug", "-s, --state", "-v, --version"] {
            #expect(r.stdout.contains(flag), "missing global flag \(flag)")
        }
    }

    @Test func helpForCommand() throws {
        let r = try ImgBinary.run(["help", "build"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("USAGE: img build"))
        #expect(r.stdout.contains("--check"))
        #expect(r.stdout.contains("--build-arg"))
    }

    @Test func globalFlagsBeforeAndAfterCommand() throws {
        #expect(try ImgBinary.run(["-d", "-s", "/tmp/x", "-b", "native", "version"]).status == 0)
        #expect(try ImgBinary.run(["version", "-d", "--backend", "overlayfs"]).status == 0)
        let bad = try ImgBinary.run(["-b", "zfs", "version"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("zfs"))
    }
}

@Suite struct ProgressTimeTests {
    @Test(arguments: [
        (Duration.milliseconds(1250), 3, "1.250"), (.milliseconds(1250), 1, "1.3"), (.milliseconds(49), 1, "0.0"),
        (.milliseconds(50), 1, "0.1"), (.seconds(12), 1, "12.0"), (.microseconds(999_999), 3, "1.000"),
        (.seconds(3), 0, "3"), (.milliseconds(7), 3, "0.007"),
    ])
    func durationsPrintWithFixedPlaces(_ duration: Duration, _ places: Int, _ expected: String) {
        #expect(duration.fixed(places) == expected)
    }
}

/// Shell completion (ArgumentParser's scripts, `img --generate-completion-script SHELL`) offers every long
/// flag `img build --help` lists, so a flag added to the command is completed without more work.
@Suite struct CompletionTests {
    @Test(arguments: ["bash", "zsh", "fish"])
    func completionOffersEveryBuildFlag(_ shell: String) throws {
        let help = try ImgBinary.run(["build", "--help"])
        #expect(help.status == 0)
        var flags = Set<String>()
        // The option column of each option line (before the description, which mentions Dockerfile flags).
        for line in help.stdout.split(separator: "\n") {
            guard line.hasPrefix("  -") else { continue }   // wrapped description lines are indented further
            let option = line.drop { $0 == " " }
            let column = option.components(separatedBy: "  ").first ?? ""
            for word in column.split(whereSeparator: { " ,<>=[]".contains($0) }) where word.hasPrefix("--") && word.count > 2 {
                flags.insert(String(word))
            }
        }
        for flag in ["--build-context", "--add-host", "--network", "--shm-size", "--ulimit", "--annotation",
                     "--no-cache-filter", "--iidfile", "--metadata-file", "--push", "--pull", "--cache-to", "--cache-from"] {
            #expect(flags.contains(flag), "img build --help lists \(flag)")
        }
        let script = try ImgBinary.run(["--generate-completion-script", shell])
        #expect(script.status == 0, "\(script.stderr)")
        // fish spells a long option as `-l name`; bash and zsh as `--name`.
        for flag in flags.subtracting(["--help", "--version"]) {
            let name = String(flag.dropFirst(2))
            #expect(script.stdout.contains(flag) || script.stdout.contains("-l '\(name)'") || script.stdout.contains("-l \(name)"),
                    "the \(shell) completion offers \(flag)")
        }
    }
}
