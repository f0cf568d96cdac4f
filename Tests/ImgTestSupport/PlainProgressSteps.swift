// PlainProgressSteps.swift owns reading which steps ran and which were cached from `--progress plain` output.
/// The `#N [...] TITLE` steps of plain progress output whose next status was CACHED, and those that ran
/// (their next status was DONE).
package func plainProgressSteps(_ output: String) -> (cached: [String], ran: [String]) {
    var titles: [String: String] = [:]
    var cached: [String] = []
    var ran: [String] = []
    for line in output.split(separator: "\n").map(String.init) where line.hasPrefix("#") {
        let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2 else { continue }
        if parts[1].hasPrefix("[") { titles[parts[0]] = parts[1] }
        else if parts[1] == "CACHED", let title = titles[parts[0]] { cached.append(title) }
        else if parts[1].hasPrefix("DONE"), let title = titles[parts[0]] { ran.append(title) }
    }
    return (cached, ran)
}
