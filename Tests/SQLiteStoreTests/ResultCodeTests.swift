import SQLiteStore
import Testing

@Suite struct ResultCodeTests {
    @Test func aConstraintViolationCarriesItsPrimaryAndExtendedCodeByName() throws {
        let db = try Database(path: ":memory:")
        try db.execute(
            "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL); INSERT INTO t VALUES(1, 'a')")
        #expect {
            try db.execute("INSERT INTO t VALUES(2, 'a')")
        } throws: { error in
            guard let error = error as? SQLiteError else { return false }
            return error.code == .constraint && error.extendedCode == .constraintUnique
                && error.extendedCode.primary == .constraint
        }
        #expect {
            try db.execute("INSERT INTO t VALUES(3, NULL)")
        } throws: { error in
            (error as? SQLiteError)?.extendedCode == .constraintNotNull
        }
    }
}
