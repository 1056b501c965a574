import Foundation

/// Adam exactly as PyTorch's `torch.optim.Adam` on CPU (single-tensor path): weight decay is L2 added to
/// the gradient (not decoupled as in AdamW), the bias corrections use the current beta1 (which one-cycle
/// scheduling changes every step), and each update is the same sequence of Float32 operations
/// (`lerp`, `addcmul`, `addcdiv`), with hyperparameters as doubles like Python floats.
public struct Adam: Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Steps taken so far.
    public private(set) var step = 0
    /// First and second moment estimates, laid out like the parameters.
    public private(set) var firstMoments: [Float]
    public private(set) var secondMoments: [Float]

    public init(parameterCount: Int, learningRate: Double = 0.001, beta1: Double = 0.9, beta2: Double = 0.999,
                epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        firstMoments = [Float](repeating: 0, count: parameterCount)
        secondMoments = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores moments and step count read from a checkpoint.
    public mutating func restore(step: Int, firstMoments: [Float], secondMoments: [Float]) {
        precondition(firstMoments.count == self.firstMoments.count && secondMoments.count == self.secondMoments.count)
        self.step = step
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// One update of `parameters` from `gradients`.
    public mutating func update(_ parameters: inout [Float], gradients: [Float]) {
        precondition(parameters.count == gradients.count && gradients.count == firstMoments.count)
        step += 1
        let correction1 = 1 - Foundation.pow(beta1, Double(step))
        let correction2Root = Float((1 - Foundation.pow(beta2, Double(step))).squareRoot())
        let negativeStepSize = Float(-(learningRate / correction1))
        let decay = Float(weightDecay), eps = Float(epsilon)
        let mWeight = Float(1 - beta1), b2 = Float(beta2), vWeight = Float(1 - beta2)
        parameters.withUnsafeMutableBufferPointer { p in
            firstMoments.withUnsafeMutableBufferPointer { m in
                secondMoments.withUnsafeMutableBufferPointer { v in
                    for i in 0..<p.count {
                        let g = decay == 0 ? gradients[i] : gradients[i] + decay * p[i]   // grad.add(param, alpha: wd)
                        m[i] = m[i] + mWeight * (g - m[i])                               // exp_avg.lerp_(grad, 1 - beta1)
                        v[i] = v[i] * b2 + vWeight * (g * g)                             // mul_(beta2).addcmul_(g, g, 1 - beta2)
                        let denominator = v[i].squareRoot() / correction2Root + eps
                        p[i] = p[i] + negativeStepSize * (m[i] / denominator)           // addcdiv_(m, denom, -step_size)
                    }
                }
            }
        }
    }
}

/// PyTorch's `OneCycleLR` with its defaults (two phases, cosine annealing, momentum cycled inversely):
/// the learning rate rises from max/div to max over the first `warmupFraction` of the steps, then falls to
/// max/div/finalDiv; beta1 falls from `maxMomentum` to `baseMomentum` and rises back.
public struct OneCycleSchedule: Sendable, Equatable {
    public let maxLearningRate: Double
    public let totalSteps: Int
    public let warmupFraction: Double
    public let divFactor: Double
    public let finalDivFactor: Double
    public let baseMomentum: Double
    public let maxMomentum: Double

    public init(maxLearningRate: Double, totalSteps: Int, warmupFraction: Double = 0.3, divFactor: Double = 25,
                finalDivFactor: Double = 1e4, baseMomentum: Double = 0.85, maxMomentum: Double = 0.95) {
        precondition(totalSteps > 0 && maxLearningRate > 0)
        self.maxLearningRate = maxLearningRate
        self.totalSteps = totalSteps
        self.warmupFraction = warmupFraction
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
        self.baseMomentum = baseMomentum
        self.maxMomentum = maxMomentum
    }

    /// Learning rate and beta1 for the optimizer step number `step` (0 for the first step).
    public func values(at step: Int) -> (learningRate: Double, beta1: Double) {
        let initial = maxLearningRate / divFactor, final = initial / finalDivFactor
        let warmupEnd = warmupFraction * Double(totalSteps) - 1, end = Double(totalSteps - 1)
        let t = Double(step)
        if t <= warmupEnd {
            let pct = warmupEnd > 0 ? t / warmupEnd : 1
            return (anneal(initial, maxLearningRate, pct), anneal(maxMomentum, baseMomentum, pct))
        }
        let pct = end > warmupEnd ? (t - warmupEnd) / (end - warmupEnd) : 1
        return (anneal(maxLearningRate, final, pct), anneal(baseMomentum, maxMomentum, pct))
    }

    /// Cosine from `start` (pct 0) to `end` (pct 1), as PyTorch's `_annealing_cos`.
    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        end + (start - end) / 2 * (Foundation.cos(Double.pi * pct) + 1)
    }
}

/// Clamps every gradient element to [-limit, limit] (PyTorch's `clip_grad_value_`).
func clipGradients(_ gradients: inout [Float], limit: Float) {
    for i in gradients.indices { gradients[i] = min(max(gradients[i], -limit), limit) }
}
