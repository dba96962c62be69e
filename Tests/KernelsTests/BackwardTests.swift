import Kernels
import TestSupport
import XCTest

/// Finite-difference checks of every backward kernel, and fast kernels against their scalar twins.
/// Forwards are the scalar reference twins (Double inside, Float out); the loss is Σ w·y in Double
/// with random w, so the analytic gradient is the backward kernel fed dy = w.
final class BackwardTests: XCTestCase {
    /// Central-difference step on float32 inputs.
    static let step: Float = 1e-3
    /// |analytic − numeric| ≤ absolute + relative·|numeric|: float32 outputs rounded at ~6e-8
    /// relative, summed over ≤ a few hundred outputs and divided by 2·step, give ~1e-4 of noise.
    static let absolute: Double = 1e-3, relative: Double = 1e-2
    /// Fast kernels against their Double twins.
    static let twinTolerance: Float = 1e-4

    /// Numerical gradient of loss(x) by central differences.
    func numericGradient(_ x: [Float], _ loss: ([Float]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        var probe = x
        for i in 0..<x.count {
            probe[i] = x[i] + Self.step
            let plus = loss(probe)
            probe[i] = x[i] - Self.step
            let minus = loss(probe)
            probe[i] = x[i]
            g[i] = (plus - minus) / (2 * Double(Self.step))
        }
        return g
    }

    func dot(_ w: [Float], _ y: [Float]) -> Double { zip(w, y).reduce(0) { $0 + Double($1.0) * Double($1.1) } }

    func assertClose(_ analytic: [Float], _ numeric: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.count, numeric.count, what, file: file, line: line)
        var worst = 0.0, largest = 0.0
        for (a, n) in zip(analytic, numeric) {
            let excess = abs(Double(a) - n) - (Self.absolute + Self.relative * abs(n))
            worst = max(worst, abs(Double(a) - n))
            largest = max(largest, abs(n))
            XCTAssertLessThanOrEqual(excess, 0, "\(what): analytic \(a) numeric \(n)", file: file, line: line)
            if excess > 0 { return }
        }
        print(String(format: "gradient check %@: max |analytic − numeric| %.2e (largest gradient %.2e)", what, worst, largest))
    }

    // MARK: GEMM

    func testLinearGradientsMatchFiniteDifferences() {
        // y[m, n] = x[m, k]·W[n, k]ᵀ; dX = dY·W (matmul), dW = dYᵀ·X (matmulTransposedA).
        let m = 5, n = 7, k = 6
        let x = randomFloats(m * k, seed: 1), w = randomFloats(n * k, seed: 2), weights = randomFloats(m * n, seed: 3)
        func forward(_ x: [Float], _ w: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: m * n)
            Gemm.referenceMatmulTransposed(m: m, n: n, k: k, a: x, lda: k, b: w, ldb: k, c: &y, ldc: n)
            return y
        }
        var dx = [Float](repeating: 0, count: m * k), dw = [Float](repeating: 0, count: n * k)
        Gemm.matmul(m: m, n: k, k: n, a: weights, lda: n, b: w, ldb: k, c: &dx, ldc: k)
        Gemm.matmulTransposedA(m: n, n: k, k: m, a: weights, lda: n, b: x, ldb: k, c: &dw, ldc: k)
        assertClose(dx, numericGradient(x) { dot(weights, forward($0, w)) }, "dX")
        assertClose(dw, numericGradient(w) { dot(weights, forward(x, $0)) }, "dW")
    }

    func testMatmulMatchesReferenceOnEdgeTilesAndThreads() {
        for (m, n, k) in [(1, 1, 1), (3, 17, 5), (13, 33, 9), (12, 32, 16), (50, 100, 70), (37, 384, 8), (100, 8, 384), (25, 1536, 400)] {
            for threads in [1, 3] {
                let pool = ThreadPool(threads: threads)
                let a = randomFloats(m * k, seed: UInt64(m * 31 + k)), b = randomFloats(k * n, seed: UInt64(n * 7 + k))
                let c0 = randomFloats(m * n, seed: 9)
                for accumulate in [false, true] {
                    var fast = c0, ref = c0
                    Gemm.matmul(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &fast, ldc: n, alpha: 0.5,
                                accumulate: accumulate, pool: pool)
                    Gemm.referenceMatmul(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &ref, ldc: n, alpha: 0.5,
                                         accumulate: accumulate)
                    let tol = Self.twinTolerance * Float(k).squareRoot()
                    XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(fast, ref), tol, "matmul \(m)×\(n)×\(k) threads \(threads)")
                }
            }
        }
    }

    func testMatmulTransposedAMatchesReferenceAndIgnoresThreadCount() {
        for (m, n, k) in [(1, 1, 1), (4, 64, 3), (8, 384, 200), (7, 70, 33), (37, 384, 32)] {
            let a = randomFloats(k * m, seed: UInt64(m + k)), b = randomFloats(k * n, seed: UInt64(n + 3 * k))
            var ref = [Float](repeating: 0, count: m * n)
            Gemm.referenceMatmulTransposedA(m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, c: &ref, ldc: n, alpha: 2)
            var results: [[Float]] = []
            for threads in [1, 2, 3] {
                var fast = [Float](repeating: 0, count: m * n)
                Gemm.matmulTransposedA(m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, c: &fast, ldc: n, alpha: 2,
                                       pool: ThreadPool(threads: threads))
                XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(fast, ref), Self.twinTolerance * Float(k).squareRoot(),
                                         "AᵀB \(m)×\(n)×\(k)")
                results.append(fast)
            }
            XCTAssertEqual(results[0], results[1]); XCTAssertEqual(results[0], results[2])
        }
    }

    // MARK: LayerNorm

    func testLayerNormGradientMatchesFiniteDifferences() {
        for cols in [5, 16, 37] {
            let rows = 3
            let x = randomFloats(rows * cols, seed: UInt64(cols), in: -2...2)
            let gamma = randomFloats(cols, seed: 11, in: 0.5...1.5), beta = randomFloats(cols, seed: 12)
            let w = randomFloats(rows * cols, seed: 13)
            func loss(_ x: [Float]) -> Double {
                var y = [Float](repeating: 0, count: rows * cols)
                Norm.referenceLayerNorm(x, residual: nil, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols, out: &y)
                return dot(w, y)
            }
            var out = [Float](repeating: 0, count: rows * cols), xhat = out, rstd = [Float](repeating: 0, count: rows)
            Backward.layerNormForward(x, residual: nil, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols,
                                      out: &out, normalized: &xhat, rstd: &rstd)
            var expected = [Float](repeating: 0, count: rows * cols)
            Norm.layerNorm(x, residual: nil, gamma: gamma, beta: beta, eps: 1e-5, rows: rows, cols: cols, out: &expected)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(out, expected), Self.twinTolerance, "forward that keeps x̂")
            var dx = [Float](repeating: 0, count: rows * cols), ref = dx
            Backward.layerNorm(w, normalized: xhat, rstd: rstd, gamma: gamma, rows: rows, cols: cols, dx: &dx)
            Backward.referenceLayerNorm(w, normalized: xhat, rstd: rstd, gamma: gamma, rows: rows, cols: cols, dx: &ref)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(dx, ref), Self.twinTolerance, "twin cols \(cols)")
            assertClose(dx, numericGradient(x, loss), "LayerNorm cols \(cols)")
        }
    }

    func testLayerNormForwardWithResidualAndAccumulatingBackward() {
        let rows = 2, cols = 33
        let x = randomFloats(rows * cols, seed: 21), r = randomFloats(rows * cols, seed: 22)
        let gamma = randomFloats(cols, seed: 23, in: 0.5...1.5), beta = randomFloats(cols, seed: 24)
        var out = [Float](repeating: 0, count: rows * cols), xhat = out, rstd = [Float](repeating: 0, count: rows)
        Backward.layerNormForward(x, residual: r, gamma: gamma, beta: beta, eps: 1e-12, rows: rows, cols: cols,
                                  out: &out, normalized: &xhat, rstd: &rstd)
        var expected = out
        Norm.referenceLayerNorm(x, residual: r, gamma: gamma, beta: beta, eps: 1e-12, rows: rows, cols: cols, out: &expected)
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(out, expected), Self.twinTolerance)
        let dy = randomFloats(rows * cols, seed: 25)
        var once = [Float](repeating: 0, count: rows * cols)
        Backward.layerNorm(dy, normalized: xhat, rstd: rstd, gamma: gamma, rows: rows, cols: cols, dx: &once)
        var twice = once
        Backward.layerNorm(dy, normalized: xhat, rstd: rstd, gamma: gamma, rows: rows, cols: cols, dx: &twice, accumulate: true)
        for i in 0..<once.count { XCTAssertEqual(twice[i], 2 * once[i], accuracy: 1e-6) }
    }

    // MARK: GELU

    func testGeluGradientMatchesFiniteDifferences() {
        let count = 37
        let x = randomFloats(count, seed: 31, in: -4...4), w = randomFloats(count, seed: 32)
        var dy = w, ref = w
        Backward.gelu(x, gradient: &dy, count: count)
        Backward.referenceGelu(x, gradient: &ref, count: count)
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(dy, ref), Self.twinTolerance)
        assertClose(dy, numericGradient(x) { x in
            var y = x
            Activation.referenceGelu(&y, count: count)
            return dot(w, y)
        }, "GELU")
    }

    // MARK: Attention

    func testAttentionGradientsMatchFiniteDifferences() {
        for (length, headDim) in [(1, 4), (5, 3), (7, 16), (19, 32)] {
            let ld = headDim + 2  // strided rows, like one head of a [tokens, hidden] matrix
            let q = randomFloats(length * ld, seed: UInt64(length)), k = randomFloats(length * ld, seed: 41)
            let v = randomFloats(length * ld, seed: 42), w = randomFloats(length * headDim, seed: 43)
            let scale = 1 / Float(headDim).squareRoot()
            func loss(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
                var out = [Float](repeating: 0, count: length * headDim)
                Attention.referenceSelfAttention(q: q, k: k, v: v, ld: ld, out: &out, ldOut: headDim, length: length,
                                                 validLength: length, headDim: headDim, scale: scale)
                return dot(w, out)
            }
            var dq = [Float](repeating: 0, count: length * ld), dk = dq, dv = dq
            var scratch = [Float](repeating: 0, count: Backward.attentionScratchCount(length: length, headDim: headDim))
            Backward.selfAttention(q: q, k: k, v: v, ld: ld, dOut: w, ldOut: headDim, dq: &dq, dk: &dk, dv: &dv, ldGrad: ld,
                                   length: length, headDim: headDim, scale: scale, scratch: &scratch)
            var rq = [Float](repeating: 0, count: length * ld), rk = rq, rv = rq
            Backward.referenceSelfAttention(q: q, k: k, v: v, ld: ld, dOut: w, ldOut: headDim, dq: &rq, dk: &rk, dv: &rv,
                                            ldGrad: ld, length: length, headDim: headDim, scale: scale)
            // Only this head's columns are gradients; the two padding columns per row are untouched.
            func head(_ a: [Float]) -> [Float] { (0..<length).flatMap { Array(a[$0 * ld..<$0 * ld + headDim]) } }
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(head(dq) + head(dk) + head(dv), head(rq) + head(rk) + head(rv)),
                                     Self.twinTolerance, "twin L \(length) d \(headDim)")
            func numericHead(_ x: [Float], _ f: ([Float]) -> Double) -> [Double] {
                let g = numericGradient(x, f)
                return (0..<length).flatMap { Array(g[$0 * ld..<$0 * ld + headDim]) }
            }
            assertClose(head(dq), numericHead(q) { loss($0, k, v) }, "dQ L \(length) d \(headDim)")
            assertClose(head(dk), numericHead(k) { loss(q, $0, v) }, "dK L \(length) d \(headDim)")
            assertClose(head(dv), numericHead(v) { loss(q, k, $0) }, "dV L \(length) d \(headDim)")
        }
    }

    func testAttentionWithDropoutGradientsMatchFiniteDifferences() {
        for (length, headDim) in [(6, 3), (19, 32)] {
            let ld = headDim, p: Float = 0.3, seed: UInt64 = 77
            let q = randomFloats(length * ld, seed: 71), k = randomFloats(length * ld, seed: 72)
            let v = randomFloats(length * ld, seed: 73), w = randomFloats(length * headDim, seed: 74)
            let scale = 1 / Float(headDim).squareRoot()
            func loss(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
                var out = [Float](repeating: 0, count: length * headDim)
                Backward.referenceSelfAttentionForward(q: q, k: k, v: v, ld: ld, out: &out, ldOut: headDim, length: length,
                                                       headDim: headDim, scale: scale, dropout: p, seed: seed)
                return dot(w, out)
            }
            var scratch = [Float](repeating: 0, count: Backward.attentionScratchCount(length: length, headDim: headDim))
            var fast = [Float](repeating: 0, count: length * headDim), ref = fast
            Backward.selfAttentionForward(q: q, k: k, v: v, ld: ld, out: &fast, ldOut: headDim, length: length, headDim: headDim,
                                          scale: scale, dropout: p, seed: seed, scratch: &scratch)
            Backward.referenceSelfAttentionForward(q: q, k: k, v: v, ld: ld, out: &ref, ldOut: headDim, length: length,
                                                   headDim: headDim, scale: scale, dropout: p, seed: seed)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(fast, ref), Self.twinTolerance, "forward twin")
            var dq = [Float](repeating: 0, count: length * ld), dk = dq, dv = dq
            Backward.selfAttention(q: q, k: k, v: v, ld: ld, dOut: w, ldOut: headDim, dq: &dq, dk: &dk, dv: &dv, ldGrad: ld,
                                   length: length, headDim: headDim, scale: scale, dropout: p, seed: seed, scratch: &scratch)
            var rq = dq, rk = dq, rv = dq
            Backward.referenceSelfAttention(q: q, k: k, v: v, ld: ld, dOut: w, ldOut: headDim, dq: &rq, dk: &rk, dv: &rv,
                                            ldGrad: ld, length: length, headDim: headDim, scale: scale, dropout: p, seed: seed)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(dq + dk + dv, rq + rk + rv), Self.twinTolerance, "backward twin")
            assertClose(dq, numericGradient(q) { loss($0, k, v) }, "dropout dQ L \(length) d \(headDim)")
            assertClose(dk, numericGradient(k) { loss(q, $0, v) }, "dropout dK L \(length) d \(headDim)")
            assertClose(dv, numericGradient(v) { loss(q, k, $0) }, "dropout dV L \(length) d \(headDim)")
        }
    }

    func testDropoutMaskIsRegeneratedAndScaled() {
        let rows = 5, cols = 40, p: Float = 0.25
        let x = randomFloats(rows * cols, seed: 81), w = randomFloats(rows * cols, seed: 82)
        var y = [Float](repeating: 0, count: rows * cols), dx = y
        Backward.dropout(x, into: &y, rows: rows, cols: cols, firstRow: 3, p: p, seed: 9)
        Backward.dropout(w, into: &dx, rows: rows, cols: cols, firstRow: 3, p: p, seed: 9)
        var dropped = 0
        for i in 0..<(rows * cols) {
            XCTAssertEqual(y[i] == 0, dx[i] == 0)
            if y[i] == 0 { dropped += 1 } else { XCTAssertEqual(y[i], x[i] / (1 - p), accuracy: 1e-6) }
        }
        XCTAssertGreaterThan(dropped, 20); XCTAssertLessThan(dropped, 80)
        assertClose(dx, numericGradient(x) { x in
            var y = [Float](repeating: 0, count: rows * cols)
            Backward.dropout(x, into: &y, rows: rows, cols: cols, firstRow: 3, p: p, seed: 9)
            return dot(w, y)
        }, "dropout")
    }

    // MARK: Pooling and loss

    func testMeanPoolGradientMatchesFiniteDifferences() {
        let rows = 4, width = 6
        let x = randomFloats(rows * width, seed: 51), w = randomFloats(width, seed: 52)
        var dx = [Float](repeating: 0, count: rows * width)
        Backward.meanPool(w, rows: rows, width: width, into: &dx)
        assertClose(dx, numericGradient(x) { x in
            (0..<width).reduce(0.0) { s, j in s + Double(w[j]) * (0..<rows).reduce(0.0) { $0 + Double(x[$1 * width + j]) } / Double(rows) }
        }, "mean pool")
    }

    func testSoftmaxCrossEntropyGradientMatchesFiniteDifferences() {
        let batch = 3, classes = 5
        let logits = randomFloats(batch * classes, seed: 61, in: -3...3)
        let labels: [Int32] = [0, 4, 2]
        var grad = [Float](repeating: 0, count: batch * classes), ref = grad
        let loss = Backward.softmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes, dLogits: &grad)
        let refLoss = Backward.referenceSoftmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes, dLogits: &ref)
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5)
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(grad, ref), 1e-6)
        var scratch = [Float](repeating: 0, count: batch * classes)
        assertClose(grad, numericGradient(logits) { l in
            Double(Backward.referenceSoftmaxCrossEntropy(l, labels: labels, batch: batch, classes: classes, dLogits: &scratch))
        }, "cross-entropy")
    }

    func testLabelSmoothingMatchesReferenceAndFiniteDifferences() {
        let batch = 3, classes = 5
        let logits = randomFloats(batch * classes, seed: 62, in: -3...3)
        let labels: [Int32] = [1, 4, 0]
        var grad = [Float](repeating: 0, count: batch * classes), ref = grad, scratch = grad
        let loss = Backward.softmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes, smoothing: 0.1, dLogits: &grad)
        let refLoss = Backward.referenceSoftmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes,
                                                            smoothing: 0.1, dLogits: &ref)
        XCTAssertEqual(loss, refLoss, accuracy: 1e-5)
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(grad, ref), 1e-6)
        assertClose(grad, numericGradient(logits) { l in
            Double(Backward.referenceSoftmaxCrossEntropy(l, labels: labels, batch: batch, classes: classes,
                                                         smoothing: 0.1, dLogits: &scratch))
        }, "smoothed cross-entropy")
        // Each row's target sums to 1, so each row's gradient sums to 0.
        for b in 0..<batch { XCTAssertEqual((0..<classes).reduce(Float(0)) { $0 + grad[b * classes + $1] }, 0, accuracy: 1e-6) }
    }

    func testLabelSmoothingOfEqualLogitsIsLogClasses() {
        // Uniform logits: p = 1/4 everywhere, so the loss is log 4 whatever the target, and the gradient is
        // p − target: with ε = 0.1 the label's target is 0.9 + 0.1 / 4 = 0.925, every other class's 0.025.
        let logits = [Float](repeating: 0.5, count: 4)
        var grad = [Float](repeating: 0, count: 4)
        let loss = Backward.softmaxCrossEntropy(logits, labels: [Int32(2)], batch: 1, classes: 4, smoothing: 0.1, dLogits: &grad)
        XCTAssertEqual(loss, Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(grad[2], 0.25 - 0.925, accuracy: 1e-6)
        XCTAssertEqual(grad[0], 0.25 - 0.025, accuracy: 1e-6)
    }

    func testSoftTargetsMatchReferenceAndFiniteDifferences() {
        let batch = 3, classes = 5
        let logits = randomFloats(batch * classes, seed: 63, in: -3...3)
        let labels: [Int32] = [2, 0, 4]
        // Each row a distribution, as a teacher's probabilities are.
        var soft = randomFloats(batch * classes, seed: 64, in: 0.05...1)
        for b in 0..<batch {
            let total = soft[(b * classes)..<((b + 1) * classes)].reduce(0, +)
            for c in 0..<classes { soft[b * classes + c] /= total }
        }
        for smoothing: Float in [0, 0.1] {
            var grad = [Float](repeating: 0, count: batch * classes), ref = grad, scratch = grad
            let loss = Backward.softmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes, smoothing: smoothing,
                                                    soft: soft, softWeight: 0.4, dLogits: &grad)
            let refLoss = Backward.referenceSoftmaxCrossEntropy(logits, labels: labels, batch: batch, classes: classes,
                                                                smoothing: smoothing, soft: soft, softWeight: 0.4, dLogits: &ref)
            XCTAssertEqual(loss, refLoss, accuracy: 1e-5)
            XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(grad, ref), 1e-6)
            assertClose(grad, numericGradient(logits) { l in
                Double(Backward.referenceSoftmaxCrossEntropy(l, labels: labels, batch: batch, classes: classes, smoothing: smoothing,
                                                             soft: soft, softWeight: 0.4, dLogits: &scratch))
            }, "cross-entropy against soft targets, ε \(smoothing)")
            for b in 0..<batch { XCTAssertEqual((0..<classes).reduce(Float(0)) { $0 + grad[b * classes + $1] }, 0, accuracy: 1e-6) }
        }
    }

    func testSoftTargetsOfEqualLogitsAndTheirLimits() {
        // Uniform logits: the loss is log 4 and the gradient p − target, target = 0.75·onehot + 0.25·soft.
        let logits = [Float](repeating: 0.5, count: 4), soft: [Float] = [0.1, 0.2, 0.3, 0.4]
        var grad = [Float](repeating: 0, count: 4)
        let loss = Backward.softmaxCrossEntropy(logits, labels: [Int32(2)], batch: 1, classes: 4, soft: soft, softWeight: 0.25, dLogits: &grad)
        XCTAssertEqual(loss, Float(log(4.0)), accuracy: 1e-6)
        XCTAssertEqual(grad[2], 0.25 - (0.75 + 0.25 * 0.3), accuracy: 1e-6)
        XCTAssertEqual(grad[0], 0.25 - 0.25 * 0.1, accuracy: 1e-6)
        // A teacher that agrees with the one-hot label changes nothing; weight 0 ignores the teacher.
        let l = randomFloats(8, seed: 65, in: -2...2), labels: [Int32] = [3, 1]
        var plain = [Float](repeating: 0, count: 8), agreeing = plain, ignored = plain
        let a = Backward.softmaxCrossEntropy(l, labels: labels, batch: 2, classes: 4, dLogits: &plain)
        let b = Backward.softmaxCrossEntropy(l, labels: labels, batch: 2, classes: 4, soft: [0, 0, 0, 1, 0, 1, 0, 0], softWeight: 0.5,
                                             dLogits: &agreeing)
        let c = Backward.softmaxCrossEntropy(l, labels: labels, batch: 2, classes: 4, soft: soft + soft, softWeight: 0, dLogits: &ignored)
        XCTAssertEqual(a, b, accuracy: 1e-6)
        XCTAssertLessThanOrEqual(Tolerance.maxAbsDifference(plain, agreeing), 1e-7)
        XCTAssertEqual(a, c)
        XCTAssertEqual(plain, ignored)
    }
}
