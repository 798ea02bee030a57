import PostgresClient
import Testing

@Suite struct PGConnectionStringTests {
    @Test(arguments: [
        ("host=db.example port=5432 user=app password=s3cr3t-pw dbname=reads", "s3cr3t-pw"),
        ("host=db.example password='s3cr3t pw' dbname=reads", "s3cr3t pw"),
        ("postgres://app:s3cr3t-pw@db.example:5432/reads?sslmode=require", "s3cr3t-pw"),
        ("postgresql://app@db.example/reads?password=s3cr3t-pw&sslmode=require", "s3cr3t-pw"),
        ("postgres://app:p%40ss@word@db.example/reads", "p%40ss@word"),
    ])
    func redactionRemovesThePassword(conninfo: String, password: String) {
        let redacted = PGConnectionString.redacted(conninfo)
        #expect(!redacted.contains(password))
        #expect(redacted.contains("db.example"))
        #expect(redacted.contains("reads"))
        #expect(PGConnectionString.carriesPassword(conninfo))
    }

    @Test func redactionKeepsTheRest() {
        #expect(
            PGConnectionString.redacted("postgres://app:pw@db.example:5432/reads?sslmode=require&password=pw")
                == "postgres://app@db.example:5432/reads?sslmode=require")
        #expect(
            PGConnectionString.redacted("host=db.example user=app password=pw dbname=reads")
                == "user=app dbname=reads host=db.example")
        #expect(PGConnectionString.redacted("reads") == "reads")
    }

    @Test(arguments: ["host=db.example dbname=reads", "postgres://app@db.example/reads", "reads", ""])
    func stringsWithoutPasswordsSayNone(conninfo: String) {
        #expect(!PGConnectionString.carriesPassword(conninfo))
    }

    @Test func aStringThatDoesNotParseIsNotEchoed() {
        let conninfo = "host=db.example password=s3cr3t-pw dbname='unterminated"
        #expect(!PGConnectionString.redacted(conninfo).contains("s3cr3t-pw"))
        #expect(PGConnectionString.carriesPassword(conninfo))
    }

    @Test func connectingWithAStringThatDoesNotParseDoesNotEchoIt() {
        // libpq's own message quotes the text it stumbled on.
        #expect {
            _ = try PGConnection(conninfo: "host=127.0.0.1 password=my s3cr3t-pw dbname=reads")
        } throws: { error in
            guard let error = error as? PGError else { return false }
            return error.kind == .invalidConnectionString && !"\(error)".contains("s3cr3t-pw")
        }
    }
}
