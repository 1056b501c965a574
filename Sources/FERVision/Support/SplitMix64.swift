import Foundation

/// A small, fast, seedable generator (SplitMix64): the same seed gives the same numbers on every
/// machine, which reproducible initialization, shuffling and augmentation need.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform Float in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float {
        low + (high - low) * Float(next() >> 40) / Float(1 << 24)
    }

    /// A uniform Double in (0, 1): never 0, so its logarithm is finite.
    public mutating func openUnit() -> Double {
        (Double(next() >> 11) + 0.5) / Double(1 << 53)
    }

    /// A standard normal deviate (Box-Muller).
    public mutating func normal() -> Double {
        let u = openUnit(), v = openUnit()
        return (-2 * Foundation.log(u)).squareRoot() * Foundation.cos(2 * Double.pi * v)
    }

    /// A Gamma(shape, 1) deviate: Marsaglia and Tsang's method, boosted by U^(1/shape) for shape < 1.
    public mutating func gamma(_ shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be positive")
        if shape < 1 { return gamma(shape + 1) * Foundation.pow(openUnit(), 1 / shape) }
        let d = shape - 1.0 / 3, c = 1 / (9 * d).squareRoot()
        while true {
            let x = normal(), v0 = 1 + c * x
            guard v0 > 0 else { continue }
            let v = v0 * v0 * v0, u = openUnit()
            if Foundation.log(u) < 0.5 * x * x + d - d * v + d * Foundation.log(v) { return d * v }
        }
    }

    /// A Beta(a, b) deviate, from two Gamma deviates.
    public mutating func beta(_ a: Double, _ b: Double) -> Double {
        let x = gamma(a), y = gamma(b)
        return x / (x + y)
    }
}
