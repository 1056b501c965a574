@testable import FERVision
import XCTest

/// The training step against PyTorch (tools/make_fixtures.py, `training_reference`): loss, every
/// gradient after one backward, and every parameter and running statistic after 5 steps of Adam with
/// weight decay, OneCycleLR and gradient clipping, on a narrow ResNet9 and a fixed batch.
final class TrainingParityTests: XCTestCase {
    private func setUpNetwork() throws -> (TrainableResNet9, StateDict, Tensor, [Int]) {
        let expected = try Fixtures.tensors("train_expected.safetensors")
        let initial = try ModelLoader.load(path: Fixtures.path("train_initial.safetensors"))
        let network = TrainableResNet9(stateDict: initial.stateDict, architecture: initial.architecture)
        let labels = expected.tensor("labels")!.scalars.map { Int($0) }
        return (network, expected, expected.tensor("inputs")!, labels)
    }

    func testLossAndGradientsMatchPyTorch() throws {
        let (network, expected, inputs, labels) = try setUpNetwork()
        let loss = network.step(inputs: inputs, labels: labels)
        let reference = Double(expected.tensor("loss")!.scalars[0])
        XCTAssertEqual(loss, reference, accuracy: 1e-5 * abs(reference), "loss")
        for slot in network.slots {
            let gradient = Array(network.gradients[slot.range])
            assertClose(gradient, expected.tensor("grad.\(slot.name)")!.scalars, tolerance: 1e-4, "gradient of \(slot.name)")
        }
    }

    func testFiveOptimizerStepsMatchPyTorch() throws {
        let (network, expected, inputs, labels) = try setUpNetwork()
        let schedule = OneCycleSchedule(maxLearningRate: 0.005, totalSteps: 100)
        var adam = Adam(parameterCount: network.parameters.count, weightDecay: 9e-6)
        let losses = expected.tensor("losses")!.scalars, rates = expected.tensor("rates")!.scalars
        var noiseFlips = 0, worst: (difference: Float, name: String) = (0, "")
        // Elements whose first gradient is at float-noise level (the conv biases before batch norm have
        // a true gradient of 0): Adam turns any nonzero noise into a step of about the learning rate, so
        // summation order decides their sign. They are counted, not compared.
        var noiseLevel = Set<Int>()
        for step in 0..<5 {
            let (rate, beta1) = schedule.values(at: step)
            XCTAssertEqual(rate, Double(rates[step]), accuracy: 1e-9 + 1e-6 * Double(rates[step]), "learning rate at step \(step)")
            let loss = network.step(inputs: inputs, labels: labels)
            XCTAssertEqual(loss, Double(losses[step]), accuracy: 1e-4 * Double(abs(losses[step])), "loss at step \(step)")
            if step == 0 {
                for (i, g) in network.gradients.enumerated() where abs(g) < 1e-7 { noiseLevel.insert(i) }
            }
            network.clipGradients(limit: 0.1)
            adam.learningRate = rate
            adam.beta1 = beta1
            adam.update(&network.parameters, gradients: network.gradients)
        }
        let after = network.stateDict
        for slot in network.slots {
            let reference = expected.tensor("after.\(slot.name)")!.scalars
            for (k, i) in slot.range.enumerated() {
                let difference = abs(network.parameters[i] - reference[k])
                if noiseLevel.contains(i) {
                    if difference > 1e-4 { noiseFlips += 1 }
                    continue
                }
                if difference > worst.difference { worst = (difference, "\(slot.name)[\(k)]") }
            }
        }
        XCTAssertLessThanOrEqual(worst.difference, 1e-4, "worst parameter difference after 5 steps: \(worst.name)")
        let share = Double(noiseFlips) / Double(network.parameters.count)
        XCTAssertLessThan(share, 0.001, "\(noiseFlips) noise-level elements differ (\(share * 100)% of \(network.parameters.count))")
        print("training parity: worst parameter difference \(worst.difference) at \(worst.name); \(noiseLevel.count) noise-level elements, \(noiseFlips) of them differ")
        for block in network.architecture.blocks {
            for buffer in ["running_mean", "running_var"] {
                let name = "\(block.name).1.\(buffer)"
                assertClose(after.tensor(name)!.scalars, expected.tensor("after.\(name)")!.scalars, tolerance: 1e-4, name)
            }
        }
        XCTAssertEqual(after.tensor("conv1.1.num_batches_tracked")!.scalars, [5])
    }
}

/// The one-cycle schedule against PyTorch's OneCycleLR over a whole 40-step cycle.
final class OneCycleScheduleTests: XCTestCase {
    func testWholeCycleMatchesPyTorch() throws {
        let expected = try Fixtures.tensors("train_expected.safetensors")
        let rates = expected.tensor("onecycle.rates")!.scalars, betas = expected.tensor("onecycle.betas")!.scalars
        let schedule = OneCycleSchedule(maxLearningRate: 0.005, totalSteps: 40)
        for step in 0..<40 {
            let (rate, beta1) = schedule.values(at: step)
            XCTAssertEqual(Float(rate), rates[step], accuracy: 1e-7 + 1e-6 * rates[step], "learning rate at step \(step)")
            XCTAssertEqual(Float(beta1), betas[step], accuracy: 1e-6, "beta1 at step \(step)")
        }
        XCTAssertEqual(schedule.values(at: 0).learningRate, 0.005 / 25, accuracy: 1e-12)
        XCTAssertEqual(schedule.values(at: 39).learningRate, 0.005 / 25 / 1e4, accuracy: 1e-12)
    }
}
