import Foundation

#if FUZZING
/// libFuzzer's entry point: built by tools/fuzz.sh with `-sanitize=fuzzer,address -DFUZZING`; libFuzzer
/// calls this with each input it makes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzTarget.selected.run(Data(bytes: bytes, count: count))
    return 0
}

/// libFuzzer's driver, for programs that own `main` (compiler-rt's FuzzerInterface.h).
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

/// SwiftPM links an executable with `main` aliased to this module's entry point, so libFuzzer's own
/// `main` never runs: this one hands the command line to libFuzzer's driver instead.
@_cdecl("fer_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { bytes, length in fuzzOneInput(bytes, length) }
}
#else
/// Without libFuzzer, the corpus runner: `fer-fuzz TARGET FILE...` runs each file through the target's
/// parser and prints what it made of it (how a crash found by fuzzing is replayed, and how the
/// regression test runs the saved crashes).
@main
enum FERFuzz {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name), arguments.count > 1 else {
            print("usage: fer-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                print("\(path): cannot be read")
                exit(1)
            }
            print("\(path): \(target.run(data))")
        }
    }
}
#endif
