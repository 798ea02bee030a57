import ArgumentParser
import Runner

extension StoreOptions {
    /// Exits 66 unless the database exists (for commands that read an existing database).
    func requireExistingDatabase(_ options: RunOptions) throws {
        try options.requireExistingDatabase()
    }
}
