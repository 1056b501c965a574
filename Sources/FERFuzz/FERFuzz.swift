import Foundation

#if FUZZING
/// libFuzzer's entry point: built by tools/fuzz.sh with `-sanitize=fuzzer,address -DFUZZING`, when
/// libFuzzer brings `main` and calls this with each input it makes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    FuzzTarget.selected.run(Data(bytes: bytes, count: count))
    return 0
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
