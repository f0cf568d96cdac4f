// AttestationSchemas.swift owns the JSON Schemas the attestation tests check statements against, written
// from the specifications (in-toto Statement v1, SLSA Provenance v1), and their validator.
package import Foundation
import ImgRegistry

/// JSON Schemas (draft 7) of what img attaches, checked by Debian's python3-jsonschema.
package enum AttestationSchemas {
    /// https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md and resource_descriptor.md's
    /// DigestSet: `_type` fixed, one subject at least, each with a name and a digest set of lower-case
    /// algorithm names to hex strings; `predicateType` a URI; `predicate` an object.
    package static let inTotoStatementV1 = """
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "type": "object",
          "required": ["_type", "subject", "predicateType"],
          "additionalProperties": false,
          "properties": {
            "_type": {"const": "https://in-toto.io/Statement/v1"},
            "subject": {
              "type": "array", "minItems": 1,
              "items": {
                "type": "object", "required": ["digest"],
                "properties": {
                  "name": {"type": "string"},
                  "uri": {"type": "string"},
                  "digest": {"$ref": "#/definitions/digestSet"},
                  "annotations": {"type": "object"}
                }
              }
            },
            "predicateType": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*:"},
            "predicate": {"type": "object"}
          },
          "definitions": {
            "digestSet": {
              "type": "object", "minProperties": 1,
              "propertyNames": {"pattern": "^[a-z0-9_-]+$"},
              "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"}
            }
          }
        }
        """

    /// https://slsa.dev/spec/v1.0/provenance: `buildDefinition` (buildType, externalParameters required;
    /// internalParameters, resolvedDependencies) and `runDetails` (builder with an id required; metadata with
    /// invocationId, startedOn, finishedOn as RFC 3339 times; byproducts). A ResourceDescriptor needs one of
    /// uri, digest, content.
    package static let slsaProvenanceV1 = """
        {
          "$schema": "http://json-schema.org/draft-07/schema#",
          "type": "object",
          "required": ["buildDefinition", "runDetails"],
          "additionalProperties": false,
          "properties": {
            "buildDefinition": {
              "type": "object",
              "required": ["buildType", "externalParameters"],
              "additionalProperties": false,
              "properties": {
                "buildType": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*:"},
                "externalParameters": {"type": "object"},
                "internalParameters": {"type": "object"},
                "resolvedDependencies": {"type": "array", "items": {"$ref": "#/definitions/resourceDescriptor"}}
              }
            },
            "runDetails": {
              "type": "object",
              "required": ["builder"],
              "additionalProperties": false,
              "properties": {
                "builder": {
                  "type": "object", "required": ["id"], "additionalProperties": false,
                  "properties": {
                    "id": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*:"},
                    "version": {"type": "object", "additionalProperties": {"type": "string"}},
                    "builderDependencies": {"type": "array", "items": {"$ref": "#/definitions/resourceDescriptor"}}
                  }
                },
                "metadata": {
                  "type": "object", "additionalProperties": false,
                  "properties": {
                    "invocationId": {"type": "string"},
                    "startedOn": {"$ref": "#/definitions/timestamp"},
                    "finishedOn": {"$ref": "#/definitions/timestamp"}
                  }
                },
                "byproducts": {"type": "array", "items": {"$ref": "#/definitions/resourceDescriptor"}}
              }
            }
          },
          "definitions": {
            "timestamp": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"},
            "resourceDescriptor": {
              "type": "object",
              "anyOf": [{"required": ["uri"]}, {"required": ["digest"]}, {"required": ["content"]}],
              "properties": {
                "uri": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*:"},
                "digest": {
                  "type": "object", "minProperties": 1,
                  "propertyNames": {"pattern": "^[a-z0-9_-]+$"},
                  "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]+$"}
                },
                "name": {"type": "string"},
                "downloadLocation": {"type": "string"},
                "mediaType": {"type": "string"},
                "content": {"type": "string"},
                "annotations": {"type": "object"}
              }
            }
          }
        }
        """

    static let validator = """
        import json, sys
        from jsonschema import Draft7Validator
        schema = json.loads(sys.argv[1])
        doc = json.load(sys.stdin)
        if len(sys.argv) > 2:
            doc = doc[sys.argv[2]]
        errors = sorted(Draft7Validator(schema).iter_errors(doc), key=str)
        for e in errors:
            print("/".join(map(str, e.path)) + ": " + e.message)
        sys.exit(1 if errors else 0)
        """

    /// The schema errors of `document` (or of its `member`), one per line; empty when it is valid.
    package static func errors(_ document: Data, schema: String, member: String? = nil) throws -> String {
        let result = try HelperProcess.run("/usr/bin/python3", ["-c", validator, schema] + (member.map { [$0] } ?? []),
                                           input: Array(document))
        let out = String(decoding: result.stdout + result.stderr, as: UTF8.self)
        return result.status == 0 ? "" : (out.isEmpty ? "validator exited \(result.status)" : out)
    }
}
