import Foundation
public import ProjectorCore

/// Reads every `*.sql` file of the jobs directory and checks them as a whole.
public enum JobLoader {
    public static func load(directory: String) throws(RunError) -> JobCatalog {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .missingPath(what: "the jobs directory", path: directory)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
                .sorted()
        } catch {
            throw .configuration("cannot list the jobs directory \(directory): \(error)")
        }
        var definitions: [JobDefinition] = []
        var errors: [JobFileError] = []
        for name in names {
            let file = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else {
                errors.append(JobFileError(file: file, line: 1, message: "cannot read the file"))
                continue
            }
            guard let text = String(validating: data, as: UTF8.self) else {
                errors.append(JobFileError(file: file, line: 1, message: "the file is not valid UTF-8"))
                continue
            }
            do {
                definitions.append(try JobFileParser.parse(name: String(name.dropLast(4)), file: file, text: text))
            } catch {
                errors += error.errors
            }
        }
        if names.isEmpty {
            errors.append(JobFileError(file: directory, line: 0, message: "no job files (*.sql) in the jobs directory"))
        }
        guard errors.isEmpty else { throw .jobs(JobFileErrors(errors)) }
        do {
            return try JobCatalog(definitions)
        } catch {
            throw .jobs(error)
        }
    }
}
