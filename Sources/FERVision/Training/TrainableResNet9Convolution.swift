import Foundation

/// The training convolutions: Winograd F(2x2, 3x3) forward and backward over the kernels in
/// Kernels/Winograd*.swift, in chunks of whole images that fit the scratch buffers.
extension TrainableResNet9 {
    /// Floats per Winograd buffer (transformed inputs, GEMM products and their gradients): whole images per
    /// chunk, as many as fit in 8M floats, or one image where a wide network needs more for one.
    static func chunkBudget(_ block: ResNet9Architecture.Block, side: Int) -> Int {
        let oneImage = 16 * winogradComponentStride(channels: max(block.inChannels, block.outChannels),
                                                    columns: winogradTileCount(height: side, width: side))
        return max(8 << 20, oneImage)
    }

    func tileScratch(workers: Int, side: Int) -> [UnsafeMutablePointer<Float>] {
        while tileScratch.count < workers { tileScratch.append(ScratchBuffer()) }
        let count = max(winogradScratchCount(height: side, width: side), winogradInputGradientScratchCount(height: side, width: side))
        return tileScratch.prefix(workers).map { $0.reserve(count) }
    }

    /// A run of whole images that one pass of a block's transforms and GEMMs covers, and the layout of its
    /// 16-component streams of transformed inputs (`inStride`) and products (`outStride`).
    struct Chunk {
        let first: Int, count: Int, columns: Int, inStride: Int, outStride: Int
    }

    /// The chunks of a batch of `n` images at side `s`, as many images each as fit the buffers.
    func forEachChunk(_ block: ResNet9Architecture.Block, images n: Int, side s: Int, _ body: (Chunk) -> Void) {
        let tiles = winogradTileCount(height: s, width: s)
        let size = winogradImagesFitting(capacity: Self.chunkBudget(block, side: s), channels: max(block.inChannels, block.outChannels),
                                         tiles: tiles, images: n)
        for first in stride(from: 0, to: n, by: size) {
            let count = min(size, n - first), columns = count * tiles
            body(Chunk(first: first, count: count, columns: columns,
                       inStride: winogradComponentStride(channels: block.inChannels, columns: columns),
                       outStride: winogradComponentStride(channels: block.outChannels, columns: columns)))
        }
    }

    /// V for a chunk of the block's input, split over the workers by channel.
    func transformInputs(_ x: UnsafePointer<Float>, _ block: ResNet9Architecture.Block, images n: Int, side s: Int,
                                 chunk: Chunk, scratch: [UnsafeMutablePointer<Float>], into v: UnsafeMutablePointer<Float>,
                                 workers: Int) {
        BLAS.parallelSlices(of: block.inChannels, parts: workers) { worker, channels in
            winogradInputs(x, channels: block.inChannels, images: n, height: s, width: s, firstImage: chunk.first,
                           imageCount: chunk.count, channelRange: channels, scratch: scratch[worker], into: v,
                           componentStride: chunk.inStride)
        }
    }

    func convolutionForward(_ b: Int, _ block: ResNet9Architecture.Block, input: [Float], images n: Int, side s: Int,
                                    output: inout [Float], workers: Int) {
        let inChannels = block.inChannels, outChannels = block.outChannels, pairs = inChannels * outChannels
        let u = filters[b].reserve(16 * pairs)
        let budget = Self.chunkBudget(block, side: s)
        let v = transformed.reserve(budget), m = products.reserve(budget)
        let scratch = tileScratch(workers: workers, side: s)
        let weight = range(of: "\(block.name).0.weight"), bias = range(of: "\(block.name).0.bias")
        parameters.withUnsafeBufferPointer { p in
            BLAS.parallelSlices(of: pairs, parts: workers) { _, range in
                winogradFilters(p.baseAddress! + weight.lowerBound, pairs: pairs, pairRange: range, into: u)
            }
            input.withUnsafeBufferPointer { x in
                output.withUnsafeMutableBufferPointer { z in
                    forEachChunk(block, images: n, side: s) { chunk in
                        transformInputs(x.baseAddress!, block, images: n, side: s, chunk: chunk, scratch: scratch, into: v, workers: workers)
                        // M[k] [out, columns] = U[k] [out, in] x V[k] [in, columns]
                        BLAS.parallelSlices(of: 16, parts: workers) { _, components in
                            for k in components {
                                BLAS.multiply(m: outChannels, n: chunk.columns, k: inChannels, a: u + k * pairs, lda: inChannels,
                                              b: v + k * chunk.inStride, ldb: chunk.columns, c: m + k * chunk.outStride, ldc: chunk.columns)
                            }
                        }
                        BLAS.parallelSlices(of: outChannels, parts: workers) { _, channels in
                            winogradOutputs(m, componentStride: chunk.outStride, outChannels: outChannels, images: n, height: s, width: s,
                                            firstImage: chunk.first, imageCount: chunk.count, channelRange: channels, into: z.baseAddress!)
                        }
                    }
                    BLAS.parallelSlices(of: outChannels, parts: workers) { _, rows in
                        for o in rows {
                            let b = p[bias.lowerBound + o], row = z.baseAddress! + o * n * s * s
                            for j in 0..<n * s * s { row[j] += b }
                        }
                    }
                }
            }
        }
    }

    /// dW += the weight gradient and (when asked) returns dX, both through the Winograd transforms' adjoints.
    /// The bias gradient comes from the batch norm's backward, which knows it in closed form.
    func convolutionBackward(_ b: Int, _ block: ResNet9Architecture.Block, input: [Float], dz: UnsafePointer<Float>,
                                     images n: Int, side s: Int, needsInputGradient: Bool, workers: Int) -> [Float] {
        let inChannels = block.inChannels, outChannels = block.outChannels, pairs = inChannels * outChannels
        let u = filters[b].reserve(16 * pairs), du = filterGradient.reserve(16 * pairs)
        let budget = Self.chunkBudget(block, side: s)
        let v = transformed.reserve(budget), dm = products.reserve(budget)
        let dv = needsInputGradient ? transformedGradient.reserve(budget) : v
        let scratch = tileScratch(workers: workers, side: s)
        du.update(repeating: 0, count: 16 * pairs)
        var dx: [Float] = []
        if needsInputGradient {
            swap(&dx, &inputGradients[b])
            reuse(&dx, count: inChannels * n * s * s)
        }
        defer { if needsInputGradient { inputGradients[b] = dx } }
        input.withUnsafeBufferPointer { x in
            dx.withUnsafeMutableBufferPointer { dx in
                forEachChunk(block, images: n, side: s) { chunk in
                    transformInputs(x.baseAddress!, block, images: n, side: s, chunk: chunk, scratch: scratch, into: v, workers: workers)
                    BLAS.parallelSlices(of: outChannels, parts: workers) { _, channels in
                        winogradOutputGradients(dz, outChannels: outChannels, images: n, height: s, width: s,
                                                firstImage: chunk.first, imageCount: chunk.count, channelRange: channels, into: dm,
                                                componentStride: chunk.outStride)
                    }
                    BLAS.parallelSlices(of: 16, parts: workers) { _, components in
                        for k in components {
                            // dU[k] [out, in] += dM[k] [out, columns] x V[k]^T [columns, in]
                            BLAS.multiply(m: outChannels, n: inChannels, k: chunk.columns, a: dm + k * chunk.outStride, lda: chunk.columns,
                                          b: v + k * chunk.inStride, ldb: chunk.columns, transposeB: true,
                                          c: du + k * pairs, ldc: inChannels, accumulate: true)
                            guard needsInputGradient else { continue }
                            // dV[k] [in, columns] = U[k]^T [in, out] x dM[k] [out, columns]
                            BLAS.multiply(m: inChannels, n: chunk.columns, k: outChannels, a: u + k * pairs, lda: inChannels, transposeA: true,
                                          b: dm + k * chunk.outStride, ldb: chunk.columns, c: dv + k * chunk.inStride, ldc: chunk.columns)
                        }
                    }
                    guard needsInputGradient else { return }
                    BLAS.parallelSlices(of: inChannels, parts: workers) { worker, channels in
                        winogradInputGradients(dv, componentStride: chunk.inStride, channels: inChannels, images: n, height: s, width: s,
                                               firstImage: chunk.first, imageCount: chunk.count, channelRange: channels,
                                               scratch: scratch[worker], into: dx.baseAddress!)
                    }
                }
            }
        }
        let weight = range(of: "\(block.name).0.weight")
        gradients.withUnsafeMutableBufferPointer { g in
            BLAS.parallelSlices(of: pairs, parts: workers) { _, range in
                winogradFilterGradients(du, pairs: pairs, pairRange: range, addingInto: g.baseAddress! + weight.lowerBound)
            }
        }
        return dx
    }
}
