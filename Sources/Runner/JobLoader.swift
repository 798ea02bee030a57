import Foundation
public import ProjectorCore
import SQLiteStore

/// Reads every `*.sql` file of the jobs directory and checks them as a whole.
public enum JobLoader {
    public static func load(directory: String) throws(RunError) -> JobCatalog {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw .missingPath(what: "the jobs directory", path: directory)
        }
        guard isDirectory.boolValue else {
            throw .unreadable(
                what: "the jobs directory", path: directory, reason: "it is a file, not a directory of *.sql files")
        }
        let names = try sqlFiles(in: directory)
        var definitions: [JobDefinition] = []
        var errors: [JobFileError] = []
        for name in names {
            let file = directory + "/" + name
            guard let data = FileManager.default.contents(atPath: file) else {
                let reason = access(file, R_OK) == 0 ? "" : ": " + String(cString: strerror(errno))
                errors.append(
                    JobFileError(
                        file: file, line: 1,
                        message: "cannot read the file\(reason); give the user running projector read access to it"))
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
        let catalog: JobCatalog
        do {
            catalog = try JobCatalog(definitions)
        } catch {
            throw .jobs(error)
        }
        let shared = sharedTables(definitions)
        guard shared.isEmpty else { throw .jobs(JobFileErrors(shared)) }
        return catalog
    }

    /// The `*.sql` file names of a directory, sorted; an unreadable directory says why.
    static func sqlFiles(in directory: String) throws(RunError) -> [String] {
        guard let stream = opendir(directory) else {
            throw .unreadable(
                what: "the jobs directory", path: directory,
                reason: String(cString: strerror(errno))
                    + "; give the user running projector read and search access (r-x) to it")
        }
        defer { closedir(stream) }
        var names: [String] = []
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".sql") { names.append(name) }
        }
        return names.sorted()
    }

    /// A table created by the `@setup` of two jobs: each job owns its tables (its first
    /// initialization and a `rebuild` start them empty, or replace them), so sharing one would let
    /// either job wipe the other's rows.
    static func sharedTables(_ definitions: [JobDefinition]) -> [JobFileError] {
        var owners: [String: (job: JobDefinition, line: Int)] = [:]
        var errors: [JobFileError] = []
        for job in definitions.sorted(by: { $0.name < $1.name }) {
            for (table, line) in CompiledJob.tableOrigins(of: job).tables {
                // SQLite's table names ignore ASCII case.
                let key = table.lowercased()
                guard let owner = owners[key] else {
                    owners[key] = (job, line)
                    continue
                }
                errors.append(
                    JobFileError(
                        file: job.file, line: line,
                        message:
                            "table '\(table)' is also created by \(owner.job.file):\(owner.line) (job '\(owner.job.name)'); "
                            + "a job owns the tables its @setup creates (a rebuild of either job would replace the "
                            + "other's rows), so give each job tables of its own"))
            }
        }
        return errors
    }
}
