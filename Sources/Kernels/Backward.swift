// Backward: gradients of the encoder's layers with respect to their inputs (the weights stay
// frozen; LoRA and head weight gradients are GEMMs, GemmBackward.swift). Each fast kernel has a
// scalar twin in Double with the same signature; tests check both against finite differences.
//   layerNormForward  LayerNorm that also keeps x̂ and 1/σ per row for the backward pass
//   layerNorm         dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ
//   gelu              dy ·= GELU'(x) = Φ(x) + x·φ(x)
//   selfAttention     dQ, dK, dV of softmax(scale·Q·Kᵀ)·V for one head of one sequence
//   meanPool          every token row gets dPooled / rows
//   softmaxCrossEntropy  mean loss over a batch and dLogits = (softmax − target) / batch
import Foundation

public enum Backward {
    // MARK: LayerNorm

    /// out = LayerNorm(x + residual)·γ + β as Norm.layerNorm, keeping x̂ [rows, cols] and 1/σ [rows].
    /// out may alias x or residual.
    public static func layerNormForward(_ x: UnsafePointer<Float>, residual: UnsafePointer<Float>?,
                                        gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, eps: Float,
                                        rows: Int, cols: Int, out: UnsafeMutablePointer<Float>,
                                        normalized: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>) {
        if cols <= 0 { return }
        let invCols = 1 / Float(cols)
        for r in 0..<rows {
            let xr = x + r * cols, o = out + r * cols, n = normalized + r * cols
            let rr = residual.map { $0 + r * cols }
            var vsum = SIMD16<Float>.zero, sum: Float = 0
            var i = 0
            while i + 16 <= cols {
                var s = load16(xr + i)
                if let rr { s += load16(rr + i) }
                store16(s, n + i)
                vsum += s
                i += 16
            }
            while i < cols { let s = xr[i] + (rr?[i] ?? 0); n[i] = s; sum += s; i += 1 }
            let mean = (horizontalSum(vsum) + sum) * invCols
            let vmean = SIMD16<Float>(repeating: mean)
            var vvar = SIMD16<Float>.zero, variance: Float = 0
            i = 0
            while i + 16 <= cols { let d = load16(n + i) - vmean; madd(&vvar, d, d); i += 16 }
            while i < cols { let d = n[i] - mean; variance += d * d; i += 1 }
            variance = (horizontalSum(vvar) + variance) * invCols
            let inv = 1 / (variance + eps).squareRoot()
            rstd[r] = inv
            let vinv = SIMD16<Float>(repeating: inv)
            i = 0
            while i + 16 <= cols {
                let h = (load16(n + i) - vmean) * vinv
                store16(h, n + i)
                var y = load16(beta + i)
                madd(&y, h, load16(gamma + i))
                store16(y, o + i)
                i += 16
            }
            while i < cols { let h = (n[i] - mean) * inv; n[i] = h; o[i] = h * gamma[i] + beta[i]; i += 1 }
        }
    }

    /// dx[rows, cols] (= or += when accumulate) the gradient of LayerNorm's input (x + residual)
    /// from dy, with x̂ and 1/σ kept by `layerNormForward`. dx may alias dy.
    public static func layerNorm(_ dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
                                 gamma: UnsafePointer<Float>, rows: Int, cols: Int,
                                 dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if cols <= 0 { return }
        let invCols = 1 / Float(cols)
        for r in 0..<rows {
            let g = dy + r * cols, h = normalized + r * cols, o = dx + r * cols
            var vs = SIMD16<Float>.zero, vsh = SIMD16<Float>.zero
            var s: Float = 0, sh: Float = 0
            var i = 0
            while i + 16 <= cols {
                let gi = load16(g + i) * load16(gamma + i)
                vs += gi
                madd(&vsh, gi, load16(h + i))
                i += 16
            }
            while i < cols { let gi = g[i] * gamma[i]; s += gi; sh += gi * h[i]; i += 1 }
            let meanG = (horizontalSum(vs) + s) * invCols
            let meanGH = (horizontalSum(vsh) + sh) * invCols
            let inv = rstd[r]
            let vmg = SIMD16<Float>(repeating: meanG), vmgh = SIMD16<Float>(repeating: meanGH)
            let vinv = SIMD16<Float>(repeating: inv)
            i = 0
            while i + 16 <= cols {
                let gi = load16(g + i) * load16(gamma + i)
                var v = (gi - vmg - load16(h + i) * vmgh) * vinv
                if accumulate { v += load16(o + i) }
                store16(v, o + i)
                i += 16
            }
            while i < cols {
                let v = (g[i] * gamma[i] - meanG - h[i] * meanGH) * inv
                o[i] = accumulate ? o[i] + v : v
                i += 1
            }
        }
    }

    /// Scalar reference twin of `layerNorm`, in Double.
    public static func referenceLayerNorm(_ dy: UnsafePointer<Float>, normalized: UnsafePointer<Float>,
                                          rstd: UnsafePointer<Float>, gamma: UnsafePointer<Float>, rows: Int, cols: Int,
                                          dx: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        for r in 0..<rows {
            var meanG = 0.0, meanGH = 0.0
            for i in 0..<cols {
                let g = Double(dy[r * cols + i]) * Double(gamma[i])
                meanG += g
                meanGH += g * Double(normalized[r * cols + i])
            }
            meanG /= Double(cols); meanGH /= Double(cols)
            for i in 0..<cols {
                let g = Double(dy[r * cols + i]) * Double(gamma[i])
                let v = Float((g - meanG - Double(normalized[r * cols + i]) * meanGH) * Double(rstd[r]))
                dx[r * cols + i] = accumulate ? dx[r * cols + i] + v : v
            }
        }
    }

    // MARK: GELU

    /// dy[i] ·= GELU'(x[i]) for exact GELU: Φ(x) + x·φ(x).
    public static func gelu(_ x: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>, count: Int) {
        let half = SIMD16<Float>(repeating: 0.5), one = SIMD16<Float>(repeating: 1)
        let invSqrt2 = SIMD16<Float>(repeating: 0.70710678118654752)
        let invSqrt2Pi = SIMD16<Float>(repeating: 0.39894228040143268)
        @inline(__always) func derivative(_ v: SIMD16<Float>) -> SIMD16<Float> {
            let cdf = half * (one + erf16(v * invSqrt2))
            let pdf = invSqrt2Pi * exp16(-half * v * v)
            return cdf + v * pdf
        }
        var i = 0
        while i + 16 <= count {
            store16(load16(dy + i) * derivative(load16(x + i)), dy + i)
            i += 16
        }
        if i < count {
            var tail = SIMD16<Float>.zero
            for j in i..<count { tail[j - i] = x[j] }
            let d = derivative(tail)
            for j in i..<count { dy[j] *= d[j - i] }
        }
    }

    /// Scalar reference twin of `gelu`, in Double.
    public static func referenceGelu(_ x: UnsafePointer<Float>, gradient dy: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let v = Double(x[i])
            let d = 0.5 * (1 + erf(v / 2.0.squareRoot())) + v * exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
            dy[i] = Float(Double(dy[i]) * d)
        }
    }

    // MARK: Attention

    /// Floats of scratch `selfAttention` needs.
    public static func attentionScratchCount(length: Int, headDim: Int) -> Int {
        let lp = (length + 15) / 16 * 16
        return 2 * headDim * lp + 2 * lp + 2 * length * headDim
    }

    /// Gradients of out = dropout(softmax(scale·Q·Kᵀ))·V for ONE head of ONE sequence (no mask:
    /// packed sequences). q, k, v, dOut rows [length, ld] at this head's dims; dq, dk, dv rows
    /// [length, ldGrad] (overwritten). Probabilities are recomputed from q and k, one query row at a
    /// time, and the dropout mask (p 0: none) regenerated as selfAttentionForward drew it:
    ///   P = softmax(S), P' = P∘M/(1−p), dP' = dO·Vᵀ, dP = dP'∘M/(1−p),
    ///   dS = P ∘ (dP − rowsum(P ∘ dP)), dQ = scale·dS·K, dK = scale·dSᵀ·Q, dV = P'ᵀ·dO.
    public static func selfAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
                                     dOut: UnsafePointer<Float>, ldOut: Int,
                                     dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                     dv: UnsafeMutablePointer<Float>, ldGrad: Int,
                                     length: Int, headDim: Int, scale: Float, dropout: Float = 0, seed: UInt64 = 0,
                                     scratch: UnsafeMutablePointer<Float>) {
        if length == 0 { return }
        let lp = (length + 15) / 16 * 16
        let keepScale = 1 / (1 - dropout)
        let kt = scratch                         // [headDim, lp] keys transposed
        let vt = kt + headDim * lp               // [headDim, lp] values transposed
        let p = vt + headDim * lp                // [lp] probabilities of one query row
        let ds = p + lp                          // [lp] dP, then dS
        let dkAcc = ds + lp                      // [length, headDim]
        let dvAcc = dkAcc + length * headDim     // [length, headDim]
        for d in 0..<headDim {
            let kr = kt + d * lp, vr = vt + d * lp
            for j in 0..<length { kr[j] = k[j * ld + d]; vr[j] = v[j * ld + d] }
            for j in length..<lp { kr[j] = 0; vr[j] = 0 }
        }
        dkAcc.update(repeating: 0, count: 2 * length * headDim)
        let vscale = SIMD16<Float>(repeating: scale)
        let vectorD = headDim % 16 == 0
        for i in 0..<length {
            let qi = q + i * ld, doi = dOut + i * ldOut
            // scores and dP for row i, vectorised over keys
            var j = 0
            while j < lp {
                var s = SIMD16<Float>.zero, g = SIMD16<Float>.zero
                for d in 0..<headDim {
                    madd(&s, SIMD16(repeating: qi[d]), load16(kt + d * lp + j))
                    madd(&g, SIMD16(repeating: doi[d]), load16(vt + d * lp + j))
                }
                store16(s * vscale, p + j)
                store16(g, ds + j)
                j += 16
            }
            Softmax.softmax(p, count: length)
            if dropout > 0 {
                // ds ← dP = dP'∘M/(1−p); p keeps P for dS, then becomes P' for dV
                var stream = DropoutStream(seed: seed, row: i, p: dropout)
                var rowDot: Float = 0
                for j in 0..<length {
                    let kept = stream.keep()
                    ds[j] = kept ? ds[j] * keepScale : 0
                    rowDot += p[j] * ds[j]
                }
                stream = DropoutStream(seed: seed, row: i, p: dropout)
                for j in 0..<length {
                    ds[j] = p[j] * (ds[j] - rowDot) * scale
                    p[j] = stream.keep() ? p[j] * keepScale : 0
                }
            } else {
                var rowDot: Float = 0
                for j in 0..<length { rowDot += p[j] * ds[j] }
                for j in 0..<length { ds[j] = p[j] * (ds[j] - rowDot) * scale }
            }
            // dQ_i = Σ_j dS_ij·K_j; dK_j += dS_ij·Q_i; dV_j += P_ij·dO_i
            let dqi = dq + i * ldGrad
            if vectorD {
                var d0 = 0
                while d0 < headDim {
                    let qv = load16(qi + d0), dov = load16(doi + d0)
                    var acc = SIMD16<Float>.zero
                    for j in 0..<length {
                        let sj = SIMD16<Float>(repeating: ds[j])
                        madd(&acc, sj, load16(k + j * ld + d0))
                        let dkj = dkAcc + j * headDim + d0
                        var a = load16(dkj); madd(&a, sj, qv); store16(a, dkj)
                        let dvj = dvAcc + j * headDim + d0
                        var b = load16(dvj); madd(&b, SIMD16(repeating: p[j]), dov); store16(b, dvj)
                    }
                    store16(acc, dqi + d0)
                    d0 += 16
                }
            } else {
                for d in 0..<headDim {
                    var acc: Float = 0
                    for j in 0..<length {
                        acc += ds[j] * k[j * ld + d]
                        dkAcc[j * headDim + d] += ds[j] * qi[d]
                        dvAcc[j * headDim + d] += p[j] * doi[d]
                    }
                    dqi[d] = acc
                }
            }
        }
        for j in 0..<length {
            (dk + j * ldGrad).update(from: dkAcc + j * headDim, count: headDim)
            (dv + j * ldGrad).update(from: dvAcc + j * headDim, count: headDim)
        }
    }

    /// Scalar reference twin of `selfAttention`, in Double (no scratch).
    public static func referenceSelfAttention(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                              ld: Int, dOut: UnsafePointer<Float>, ldOut: Int,
                                              dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                              dv: UnsafeMutablePointer<Float>, ldGrad: Int,
                                              length: Int, headDim: Int, scale: Float, dropout: Float = 0, seed: UInt64 = 0) {
        let n = length
        var p = [Double](repeating: 0, count: n * n), dS = p, kept = p
        for i in 0..<n {
            var m = -Double.infinity
            for j in 0..<n {
                var s = 0.0
                for d in 0..<headDim { s += Double(q[i * ld + d]) * Double(k[j * ld + d]) }
                p[i * n + j] = s * Double(scale)
                m = max(m, p[i * n + j])
            }
            var sum = 0.0
            for j in 0..<n { p[i * n + j] = exp(p[i * n + j] - m); sum += p[i * n + j] }
            for j in 0..<n { p[i * n + j] /= sum }
            var stream = DropoutStream(seed: seed, row: i, p: dropout)
            for j in 0..<n { kept[i * n + j] = stream.keep() ? 1 / Double(1 - dropout) : 0 }
            var dP = [Double](repeating: 0, count: n)
            var rowDot = 0.0
            for j in 0..<n {
                for d in 0..<headDim { dP[j] += Double(dOut[i * ldOut + d]) * Double(v[j * ld + d]) }
                dP[j] *= kept[i * n + j]
                rowDot += dP[j] * p[i * n + j]
            }
            for j in 0..<n { dS[i * n + j] = p[i * n + j] * (dP[j] - rowDot) * Double(scale) }
        }
        for i in 0..<n {
            for d in 0..<headDim {
                var gq = 0.0, gk = 0.0, gv = 0.0
                for j in 0..<n {
                    gq += dS[i * n + j] * Double(k[j * ld + d])
                    gk += dS[j * n + i] * Double(q[j * ld + d])
                    gv += p[j * n + i] * kept[j * n + i] * Double(dOut[j * ldOut + d])
                }
                dq[i * ldGrad + d] = Float(gq); dk[i * ldGrad + d] = Float(gk); dv[i * ldGrad + d] = Float(gv)
            }
        }
    }

    // MARK: Pooling and loss

    /// Mean pooling backward: every one of `rows` token rows [rows, width] gets dPooled / rows
    /// (added when accumulate).
    public static func meanPool(_ dPooled: UnsafePointer<Float>, rows: Int, width: Int,
                                into dStates: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        if rows <= 0 { return }
        let inv = 1 / Float(rows)
        for r in 0..<rows {
            let o = dStates + r * width
            for j in 0..<width { o[j] = (accumulate ? o[j] : 0) + dPooled[j] * inv }
        }
    }

    /// Mean cross-entropy of softmax(logits) [batch, classes] against `labels`, and its gradient
    /// dLogits = (softmax − target) / batch. The target is the one-hot label; with `soft` rows (a
    /// teacher's distribution, [batch, classes]) and their weight w, (1 − w)·onehot + w·soft; with
    /// `smoothing` ε (label smoothing), (1 − ε) times that + ε / classes. Returns the loss.
    @discardableResult
    public static func softmaxCrossEntropy(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch: Int,
                                           classes: Int, smoothing: Float = 0, soft: UnsafePointer<Float>? = nil,
                                           softWeight: Float = 0, dLogits: UnsafeMutablePointer<Float>) -> Float {
        if batch == 0 { return 0 }
        var loss = 0.0
        let invBatch = 1 / Float(batch), spread = smoothing / Float(classes)
        let teacher = softWeight != 0 ? soft : nil
        let hard = teacher == nil ? 1 - smoothing : (1 - smoothing) * (1 - softWeight), softScale = (1 - smoothing) * softWeight
        for b in 0..<batch {
            let row = logits + b * classes, g = dLogits + b * classes
            var m = -Float.infinity
            for c in 0..<classes { m = max(m, row[c]) }
            var sum: Float = 0
            for c in 0..<classes { g[c] = Foundation.exp(row[c] - m); sum += g[c] }
            let label = Int(labels[b])
            // −Σ target·log p = log Σ exp − Σ target·logit.
            var targetLogit = row[label]
            if smoothing != 0 || teacher != nil {
                targetLogit *= hard
                if smoothing != 0 {
                    var total: Float = 0
                    for c in 0..<classes { total += row[c] }
                    targetLogit += spread * total
                }
                if let teacher {
                    let t = teacher + b * classes
                    for c in 0..<classes { targetLogit += softScale * t[c] * row[c] }
                }
            }
            loss += Double(Foundation.log(sum) + m - targetLogit)
            let inv = 1 / sum
            if let teacher {
                let t = teacher + b * classes
                for c in 0..<classes { g[c] = (g[c] * inv - ((c == label ? hard : 0) + spread + softScale * t[c])) * invBatch }
            } else {
                for c in 0..<classes { g[c] = (g[c] * inv - ((c == label ? hard : 0) + spread)) * invBatch }
            }
        }
        return Float(loss / Double(batch))
    }

    /// Scalar reference twin of `softmaxCrossEntropy`, in Double.
    @discardableResult
    public static func referenceSoftmaxCrossEntropy(_ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>,
                                                    batch: Int, classes: Int, smoothing: Float = 0,
                                                    soft: UnsafePointer<Float>? = nil, softWeight: Float = 0,
                                                    dLogits: UnsafeMutablePointer<Float>) -> Float {
        var loss = 0.0
        let eps = Double(smoothing)
        for b in 0..<batch {
            var m = -Double.infinity
            for c in 0..<classes { m = max(m, Double(logits[b * classes + c])) }
            var sum = 0.0
            for c in 0..<classes { sum += exp(Double(logits[b * classes + c]) - m) }
            let label = Int(labels[b])
            for c in 0..<classes {
                let w = soft == nil ? 0 : Double(softWeight)
                let teacher = soft.map { Double($0[b * classes + c]) } ?? 0
                let target = (1 - eps) * ((c == label ? 1 - w : 0) + w * teacher) + eps / Double(classes)
                let logP = Double(logits[b * classes + c]) - m - log(sum)
                loss -= target * logP
                dLogits[b * classes + c] = Float((exp(logP) - target) / Double(batch))
            }
        }
        return batch == 0 ? 0 : Float(loss / Double(batch))
    }
}
