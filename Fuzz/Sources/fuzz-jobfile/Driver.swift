import FuzzDriver

/// SwiftPM names an executable's entry point `fuzz_jobfile_main`.
@_cdecl("fuzz_jobfile_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runFuzzer(argc, argv) { data, size in fuzzTarget(data, size) }
}
