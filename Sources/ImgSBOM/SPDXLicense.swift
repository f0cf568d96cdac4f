/// A package's declared licence made a valid SPDX licence expression (SPDX 2.3 Annex D): identifiers on
/// the SPDX licence list keep their canonical spelling, Debian's DEP-5 short names become their SPDX ids
/// (`GPL-2+` is `GPL-2.0-or-later`), lower-case `and`/`or`/`with` become operators, and any other name becomes
/// `LicenseRef-<name>`, which the document then declares. Text that is no expression (a licence's whole
/// text, "see COPYING") gives nil: the document says NOASSERTION rather than invent one.
struct SPDXLicense {
    /// The expression, in SPDX syntax.
    let expression: String
    /// Each `LicenseRef-` it uses, with the name it was made from.
    let references: [String: String]

    /// A longer text is prose, not an expression.
    static let maxLength = 512
    /// Parentheses nested deeper than this are hostile: parsing stops instead of recursing.
    static let maxDepth = 32

    init?(_ text: String) {
        guard text.utf8.count <= Self.maxLength, let tokens = Self.tokens(text), !tokens.isEmpty else { return nil }
        var parser = Parser(tokens: tokens)
        guard let node = parser.parseOr(depth: 0), parser.index == tokens.count else { return nil }
        expression = node.rendered(inside: nil)
        references = parser.references
    }

    private static func tokens(_ text: String) -> [String]? {
        var tokens: [String] = []
        var word = ""
        for character in text {
            if character == "(" || character == ")" || character == " " || character == "\t" || character == "\n" {
                if !word.isEmpty { tokens.append(word) }
                word = ""
                if character == "(" || character == ")" { tokens.append(String(character)) }
            } else {
                word.append(character)
            }
        }
        if !word.isEmpty { tokens.append(word) }
        return tokens
    }

    private indirect enum Node {
        case license(String)
        case with(String, String)
        case and([Node])
        case or([Node])

        /// AND binds tighter than OR: an OR inside an AND needs parentheses.
        func rendered(inside parent: String?) -> String {
            switch self {
            case .license(let id): return id
            case .with(let id, let exception): return "\(id) WITH \(exception)"
            case .and(let parts):
                return parts.map { $0.rendered(inside: "AND") }.joined(separator: " AND ")
            case .or(let parts):
                let text = parts.map { $0.rendered(inside: "OR") }.joined(separator: " OR ")
                return parent == "AND" ? "(\(text))" : text
            }
        }
    }

    private struct Parser {
        let tokens: [String]
        var index = 0
        var references: [String: String] = [:]

        init(tokens: [String]) { self.tokens = tokens }

        private var next: String? { index < tokens.count ? tokens[index] : nil }
        private func isOperator(_ token: String?, _ name: String) -> Bool { token?.uppercased() == name }

        mutating func parseOr(depth: Int) -> Node? {
            guard let first = parseAnd(depth: depth) else { return nil }
            var parts = [first]
            while isOperator(next, "OR") {
                index += 1
                guard let part = parseAnd(depth: depth) else { return nil }
                parts.append(part)
            }
            return parts.count == 1 ? first : .or(parts)
        }

        mutating func parseAnd(depth: Int) -> Node? {
            guard let first = parseWith(depth: depth) else { return nil }
            var parts = [first]
            while isOperator(next, "AND") {
                index += 1
                guard let part = parseWith(depth: depth) else { return nil }
                parts.append(part)
            }
            return parts.count == 1 ? first : .and(parts)
        }

        mutating func parseWith(depth: Int) -> Node? {
            guard let atom = parseAtom(depth: depth) else { return nil }
            guard isOperator(next, "WITH") else { return atom }
            index += 1
            guard case .license(let id) = atom, let exception = next,
                  let canonical = SPDXLicenseList.exceptions[exception.lowercased()] else { return nil }
            index += 1
            return .with(id, canonical)
        }

        mutating func parseAtom(depth: Int) -> Node? {
            guard let token = next else { return nil }
            if token == "(" {
                guard depth < SPDXLicense.maxDepth else { return nil }
                index += 1
                guard let inner = parseOr(depth: depth + 1), next == ")" else { return nil }
                index += 1
                return inner
            }
            guard token != ")", !["AND", "OR", "WITH"].contains(token.uppercased()) else { return nil }
            index += 1
            return .license(identifier(token))
        }

        /// The SPDX id for one licence name, or a `LicenseRef-` made from it.
        mutating func identifier(_ name: String) -> String {
            if let known = SPDXLicenseList.canonical(name) { return known }
            let reference: String
            if name.hasPrefix("LicenseRef-"), name.dropFirst(11).allSatisfy(SPDXLicenseList.isIDCharacter), name.count > 11 {
                reference = name
            } else {
                reference = "LicenseRef-" + String(name.map { SPDXLicenseList.isIDCharacter($0) ? $0 : "-" })
            }
            references[reference] = name
            return reference
        }
    }
}

/// The part of the SPDX licence list img recognises: the licences Linux distributions and Python packages
/// commonly declare. A name not here is kept as a `LicenseRef-`, which is still valid SPDX.
enum SPDXLicenseList {
    static let identifiers: [String] = [
        "0BSD", "AFL-2.1", "AFL-3.0", "AGPL-3.0-only", "AGPL-3.0-or-later", "Apache-1.1", "Apache-2.0", "APSL-2.0",
        "Artistic-1.0", "Artistic-1.0-Perl", "Artistic-2.0", "Beerware", "BSD-1-Clause", "BSD-2-Clause",
        "BSD-2-Clause-Patent", "BSD-3-Clause", "BSD-3-Clause-Clear", "BSD-4-Clause", "BSD-Source-Code", "BSL-1.0",
        "bzip2-1.0.6", "CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC0-1.0", "CDDL-1.0", "CDDL-1.1",
        "CPL-1.0", "curl", "ECL-2.0", "EPL-1.0", "EPL-2.0", "EUPL-1.2", "FSFAP", "FSFUL", "FSFULLR", "FTL",
        "GFDL-1.1-only", "GFDL-1.1-or-later", "GFDL-1.2-only", "GFDL-1.2-or-later", "GFDL-1.3-only",
        "GFDL-1.3-or-later", "GPL-1.0-only", "GPL-1.0-or-later", "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only",
        "GPL-3.0-or-later", "HPND", "ICU", "IJG", "ISC", "LGPL-2.0-only", "LGPL-2.0-or-later", "LGPL-2.1-only",
        "LGPL-2.1-or-later", "LGPL-3.0-only", "LGPL-3.0-or-later", "Libpng", "libpng-2.0", "libtiff", "LPPL-1.3c",
        "MIT", "MIT-0", "MIT-CMU", "MPL-1.1", "MPL-2.0", "MPL-2.0-no-copyleft-exception", "MS-PL", "NCSA", "NTP",
        "OFL-1.1", "OLDAP-2.8", "OpenSSL", "PHP-3.01", "PostgreSQL", "PSF-2.0", "Python-2.0", "Ruby", "Sleepycat",
        "SSPL-1.0", "TCL", "Unicode-DFS-2016", "Unicode-3.0", "Unlicense", "UPL-1.0", "Vim", "W3C", "WTFPL", "X11",
        "Zlib", "ZPL-2.1",
    ]

    static let exceptionIdentifiers: [String] = [
        "Autoconf-exception-2.0", "Autoconf-exception-3.0", "Bison-exception-2.2", "Classpath-exception-2.0",
        "Font-exception-2.0", "GCC-exception-2.0", "GCC-exception-3.1", "Libtool-exception", "LLVM-exception",
        "OpenSSL-exception", "Qt-GPL-exception-1.0", "Qt-LGPL-exception-1.1",
    ]

    /// Debian's DEP-5 short names (and a few long-standing spellings) that differ from the SPDX ids.
    static let aliases: [String: String] = [
        "gpl-1": "GPL-1.0-only", "gpl-1+": "GPL-1.0-or-later", "gpl-2": "GPL-2.0-only", "gpl-2+": "GPL-2.0-or-later",
        "gpl-3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later", "lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later",
        "lgpl-2.1": "LGPL-2.1-only", "lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-3": "LGPL-3.0-only",
        "lgpl-3+": "LGPL-3.0-or-later", "agpl-3": "AGPL-3.0-only", "agpl-3+": "AGPL-3.0-or-later",
        "gfdl-1.2": "GFDL-1.2-only", "gfdl-1.2+": "GFDL-1.2-or-later", "gfdl-1.3": "GFDL-1.3-only",
        "gfdl-1.3+": "GFDL-1.3-or-later", "gpl-2.0": "GPL-2.0-only", "gpl-2.0+": "GPL-2.0-or-later",
        "gpl-3.0": "GPL-3.0-only", "gpl-3.0+": "GPL-3.0-or-later", "lgpl-2.0": "LGPL-2.0-only",
        "lgpl-2.0+": "LGPL-2.0-or-later", "lgpl-2.1-or-later": "LGPL-2.1-or-later", "lgpl-3.0": "LGPL-3.0-only",
        "lgpl-3.0+": "LGPL-3.0-or-later", "expat": "MIT", "apache-2": "Apache-2.0",
        "mpl-2": "MPL-2.0", "artistic": "Artistic-1.0-Perl", "zlib/libpng": "Zlib", "psf": "PSF-2.0",
        "python": "Python-2.0",
    ]

    private static let byLowercase: [String: String] = Dictionary(identifiers.map { ($0.lowercased(), $0) }) { a, _ in a }
    static let exceptions: [String: String] = Dictionary(exceptionIdentifiers.map { ($0.lowercased(), $0) }) { a, _ in a }

    /// The SPDX id for a name, matched case-insensitively as Annex D allows; nil when unknown.
    static func canonical(_ name: String) -> String? {
        let lower = name.lowercased()
        if let id = byLowercase[lower] ?? aliases[lower] { return id }
        // `<id>+` is SPDX's "or later" for licences with no -or-later id of their own.
        if lower.hasSuffix("+"), let id = byLowercase[String(lower.dropLast())], !id.hasSuffix("-only") { return id + "+" }
        return nil
    }

    /// The characters an SPDX id string may hold (Annex D: letters, digits, `.` and `-`).
    static func isIDCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "." || character == "-")
    }
}
