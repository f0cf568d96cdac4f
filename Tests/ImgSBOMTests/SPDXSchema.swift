import Foundation
import ImgSystem
import ImgTestSupport

/// A subset of SPDX 2.3's JSON schema, written from the spec's clauses for what img writes, and stricter
/// than the published schema where the spec's prose is: id syntax (clause 3.2, Annex D's idstring), the
/// `created` format (6.9), agent syntax for creators, suppliers and originators (6.8, 7.5, 7.6), SHA-1
/// required among a file's checksums (8.4), lower-case hex checksums, the namespace without `#` (6.5).
enum SPDXSchema {
    static let text = #"""
    {
      "$schema": "http://json-schema.org/draft-07/schema#",
      "title": "SPDX 2.3 subset (img)",
      "type": "object",
      "required": ["spdxVersion", "dataLicense", "SPDXID", "name", "documentNamespace", "creationInfo"],
      "additionalProperties": false,
      "definitions": {
        "id": {"type": "string", "pattern": "^SPDXRef-[A-Za-z0-9.-]+$"},
        "agent": {"type": "string", "pattern": "^(NOASSERTION|(Person|Organization): [^\\n]+)$"},
        "license": {"type": "string", "pattern": "^(NOASSERTION|NONE|[A-Za-z0-9.+() -]+)$"},
        "hex": {"type": "string", "pattern": "^[0-9a-f]+$"}
      },
      "properties": {
        "spdxVersion": {"const": "SPDX-2.3"},
        "dataLicense": {"const": "CC0-1.0"},
        "SPDXID": {"const": "SPDXRef-DOCUMENT"},
        "name": {"type": "string", "minLength": 1},
        "documentNamespace": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*://[^#]+$"},
        "documentDescribes": {"type": "array", "items": {"$ref": "#/definitions/id"}},
        "creationInfo": {
          "type": "object",
          "required": ["created", "creators"],
          "additionalProperties": false,
          "properties": {
            "created": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"},
            "creators": {"type": "array", "minItems": 1,
                         "items": {"type": "string", "pattern": "^(Tool|Person|Organization): .+$"}}
          }
        },
        "packages": {
          "type": "array",
          "items": {
            "type": "object",
            "required": ["SPDXID", "name", "downloadLocation"],
            "additionalProperties": false,
            "properties": {
              "SPDXID": {"$ref": "#/definitions/id"},
              "name": {"type": "string", "minLength": 1},
              "versionInfo": {"type": "string"},
              "supplier": {"$ref": "#/definitions/agent"},
              "originator": {"$ref": "#/definitions/agent"},
              "downloadLocation": {"type": "string", "minLength": 1},
              "filesAnalyzed": {"type": "boolean"},
              "packageVerificationCode": {
                "type": "object", "required": ["packageVerificationCodeValue"], "additionalProperties": false,
                "properties": {"packageVerificationCodeValue": {"type": "string", "pattern": "^[0-9a-f]{40}$"}}
              },
              "licenseConcluded": {"$ref": "#/definitions/license"},
              "licenseDeclared": {"$ref": "#/definitions/license"},
              "copyrightText": {"type": "string"},
              "sourceInfo": {"type": "string"},
              "primaryPackagePurpose": {"enum": ["OTHER", "INSTALL", "ARCHIVE", "FIRMWARE", "APPLICATION", "FRAMEWORK",
                                                 "LIBRARY", "CONTAINER", "SOURCE", "DEVICE", "OPERATING_SYSTEM", "FILE"]},
              "externalRefs": {
                "type": "array",
                "items": {
                  "type": "object",
                  "required": ["referenceCategory", "referenceType", "referenceLocator"],
                  "additionalProperties": false,
                  "properties": {
                    "referenceCategory": {"enum": ["OTHER", "PERSISTENT-ID", "SECURITY", "PACKAGE-MANAGER"]},
                    "referenceType": {"type": "string"},
                    "referenceLocator": {"type": "string", "pattern": "^pkg:[a-z][a-z0-9.+-]*/[^ ]+@[^ ]+$"}
                  }
                }
              }
            }
          }
        },
        "files": {
          "type": "array",
          "items": {
            "type": "object",
            "required": ["SPDXID", "fileName", "checksums"],
            "additionalProperties": false,
            "properties": {
              "SPDXID": {"$ref": "#/definitions/id"},
              "fileName": {"type": "string", "minLength": 1},
              "checksums": {
                "type": "array", "minItems": 1,
                "contains": {"type": "object", "properties": {"algorithm": {"const": "SHA1"}}},
                "items": {
                  "type": "object", "required": ["algorithm", "checksumValue"], "additionalProperties": false,
                  "properties": {"algorithm": {"enum": ["SHA1", "SHA256"]}, "checksumValue": {"$ref": "#/definitions/hex"}}
                }
              },
              "licenseConcluded": {"$ref": "#/definitions/license"},
              "copyrightText": {"type": "string"}
            }
          }
        },
        "hasExtractedLicensingInfos": {
          "type": "array",
          "items": {
            "type": "object", "required": ["licenseId", "extractedText"], "additionalProperties": false,
            "properties": {
              "licenseId": {"type": "string", "pattern": "^LicenseRef-[A-Za-z0-9.-]+$"},
              "name": {"type": "string"},
              "extractedText": {"type": "string", "minLength": 1}
            }
          }
        },
        "relationships": {
          "type": "array",
          "items": {
            "type": "object", "required": ["spdxElementId", "relationshipType", "relatedSpdxElement"],
            "additionalProperties": false,
            "properties": {
              "spdxElementId": {"type": "string", "pattern": "^SPDXRef-[A-Za-z0-9.-]+$"},
              "relationshipType": {"enum": ["DESCRIBES", "CONTAINS", "DEPENDS_ON"]},
              "relatedSpdxElement": {"type": "string", "pattern": "^(SPDXRef-[A-Za-z0-9.-]+|NONE|NOASSERTION)$"}
            }
          }
        }
      }
    }
    """#

    /// Validates each JSON file given with the schema file (Draft 7), printing every error; exit 1 on any.
    static let validator = """
        import json, sys
        from jsonschema import Draft7Validator
        schema = json.load(open(sys.argv[1]))
        Draft7Validator.check_schema(schema)
        validator = Draft7Validator(schema)
        failed = False
        for path in sys.argv[2:]:
            for error in validator.iter_errors(json.load(open(path))):
                print(path, list(error.absolute_path), error.message)
                failed = True
        sys.exit(1 if failed else 0)
        """

    /// Runs the validator over documents; its exit status and what it printed.
    static func validate(_ documents: [Data]) throws -> (status: ProcessStatus, output: String) {
        let python = try Prerequisite.jsonschema.require()
        let directory = try TemporaryDirectory("img-sbom-schema")
        try directory.write("schema.json", text)
        try directory.write("validate.py", validator)
        var paths: [String] = []
        for (index, document) in documents.enumerated() {
            try document.write(to: directory.url.appending(path: "document\(index).json"))
            paths.append(directory["document\(index).json"])
        }
        let result = try ChildProcess.collect(executable: python, arguments: [directory["validate.py"], directory["schema.json"]] + paths)
        return (result.status, result.stdout + result.stderr)
    }
}
