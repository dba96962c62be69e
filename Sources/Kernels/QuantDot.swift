// QuantDot: the integer dot products of quantized weights with quantized activations, as
// ggml's `ggml_vec_dot_*_q8_*` reference (generic) versions compute them: per block an integer
// sum of products, scaled by both block scales; the Q4_1/Q5_1 min term uses the activation
// block's sum d·Σq (ggml's Q8_1 `s`), the K-quant min term the Q8_K block sums.
//
// These are the scalar twin of the fast matmul: same activation quantization, integer math.
// The Q8_1 block sum s is f16(d·Σq) with d unrounded, as ggml stores it.

extension QuantMatmul {
    /// Scalar twin of `matmul` with ggml's integer arithmetic: each x row is quantized with
    /// `referenceQuantizeActivations`, then each output is a sum of integer block dot products.
    /// Float formats: float dot products of the dequantized row. The oracle for `matmul`.
    public static func referenceQuantizedMatmul(m: Int, n: Int, k: Int, x: UnsafePointer<Float>, ldx: Int,
                                                weights: UnsafeRawPointer, format: QuantFormat,
                                                y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool = false) {
        precondition(k % format.blockSize == 0, "k \(k) is not a multiple of \(format)'s block size")
        let kind = format.activationQuantization
        if kind == .none {
            referenceMatmul(m: m, n: n, k: k, x: x, ldx: ldx, weights: weights, format: format, y: y, ldy: ldy,
                            accumulate: accumulate)
            return
        }
        let qs = UnsafeMutablePointer<Int8>.allocate(capacity: k)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: k / kind.blockSize)
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: k / kind.blockSize)
        defer { qs.deallocate(); scales.deallocate(); sums.deallocate() }
        let rowBytes = format.rowBytes(k)
        for i in 0..<m {
            referenceQuantizeActivations(x + i * ldx, k: k, kind: kind, qs: qs, scales: scales, sums: sums)
            for j in 0..<n {
                let value = referenceDot(weights + j * rowBytes, format: format, k: k, qs: qs, scales: scales,
                                         sums: hasIntegerDot(format) ? UnsafePointer(sums) : nil)
                y[i * ldy + j] = accumulate ? y[i * ldy + j] + value : value
            }
        }
    }

    /// One weight row · one quantized activation row (qs, scales, sums from referenceQuantizeActivations;
    /// the Q4_1/Q5_1 min term uses ggml's f16 block sums when `sums` is given, d·Σq otherwise).
    public static func referenceDot(_ w: UnsafeRawPointer, format: QuantFormat, k: Int,
                                    qs: UnsafePointer<Int8>, scales: UnsafePointer<Float>,
                                    sums: UnsafePointer<Float>? = nil) -> Float {
        @inline(__always) func byte(_ p: UnsafeRawPointer, _ i: Int) -> Int { Int(p.load(fromByteOffset: i, as: UInt8.self)) }
        @inline(__always) func u32(_ p: UnsafeRawPointer, _ i: Int) -> Int {
            Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
        }
        var sumf: Float = 0
        switch format {
        case .f32, .f16, .bf16:
            preconditionFailure("float formats have no quantized dot product")
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0:
            for b in 0..<k / 32 {
                let blk = w + format.bytesPerBlock * b, a = qs + 32 * b
                let dw = quantHalf(blk, 0), da = scales[b]
                var sumi = 0, suma = 0
                for j in 0..<32 { suma += Int(a[j]) }
                switch format {
                case .q4_0:
                    for j in 0..<16 {
                        sumi += (byte(blk, 2 + j) & 15 - 8) * Int(a[j]) + (byte(blk, 2 + j) >> 4 - 8) * Int(a[j + 16])
                    }
                    sumf += Float(sumi) * (dw * da)
                case .q4_1:
                    for j in 0..<16 {
                        sumi += (byte(blk, 4 + j) & 15) * Int(a[j]) + (byte(blk, 4 + j) >> 4) * Int(a[j + 16])
                    }
                    sumf += Float(sumi) * (dw * da) + quantHalf(blk, 2) * (sums?[b] ?? da * Float(suma))
                case .q5_0, .q5_1:
                    let hasMin = format == .q5_1
                    let qh = u32(blk, hasMin ? 4 : 2), q = hasMin ? 8 : 6
                    let offset = hasMin ? 0 : 16
                    for j in 0..<16 {
                        let lo = (byte(blk, q + j) & 15) | ((qh >> j) & 1) << 4
                        let hi = (byte(blk, q + j) >> 4) | ((qh >> (j + 16)) & 1) << 4
                        sumi += (lo - offset) * Int(a[j]) + (hi - offset) * Int(a[j + 16])
                    }
                    sumf += Float(sumi) * (dw * da)
                    if hasMin { sumf += quantHalf(blk, 2) * (sums?[b] ?? da * Float(suma)) }
                default:   // q8_0
                    for j in 0..<32 { sumi += Int(Int8(truncatingIfNeeded: byte(blk, 2 + j))) * Int(a[j]) }
                    sumf += Float(sumi) * (dw * da)
                }
            }
        case .q4_K, .q5_K:
            let isQ5 = format == .q5_K
            for b in 0..<k / 256 {
                let blk = w + format.bytesPerBlock * b, a = qs + 256 * b
                let d = quantHalf(blk, 0), dmin = quantHalf(blk, 2), da = scales[b]
                let q = isQ5 ? 48 : 16
                var sumScaled = 0, sumMins = 0
                for sub in 0..<8 {   // sub-block of 32: nibbles (sub & 1 ? high : low) of bytes 32·(sub/2)...
                    let (sc, mn) = scaleMinK4(sub, blk + 4)
                    var sumi = 0, bsum = 0
                    for l in 0..<32 {
                        let packed = byte(blk, q + 32 * (sub / 2) + l)
                        var value = sub & 1 == 0 ? packed & 15 : packed >> 4
                        if isQ5 { value |= ((byte(blk, 16 + l) >> sub) & 1) << 4 }
                        sumi += value * Int(a[32 * sub + l])
                        bsum += Int(a[32 * sub + l])
                    }
                    sumScaled += Int(sc) * sumi
                    sumMins += Int(mn) * bsum
                }
                sumf += d * da * Float(sumScaled) - dmin * da * Float(sumMins)
            }
        case .q6_K:
            for b in 0..<k / 256 {
                let blk = w + 210 * b, a = qs + 256 * b
                let d = quantHalf(blk, 208), da = scales[b]
                var sumScaled = 0
                for half in 0..<2 {
                    let ql = 64 * half, qh = 128 + 32 * half, sc = 192 + 8 * half
                    var sums = [Int](repeating: 0, count: 8)   // per 16 values: scale index s + 2·quarter
                    for l in 0..<32 {
                        let h = byte(blk, qh + l)
                        let values = [
                            (byte(blk, ql + l) & 15) | (h & 3) << 4,
                            (byte(blk, ql + l + 32) & 15) | ((h >> 2) & 3) << 4,
                            (byte(blk, ql + l) >> 4) | ((h >> 4) & 3) << 4,
                            (byte(blk, ql + l + 32) >> 4) | ((h >> 6) & 3) << 4,
                        ]
                        for quarter in 0..<4 {
                            sums[l / 16 + 2 * quarter] += (values[quarter] - 32) * Int(a[128 * half + 32 * quarter + l])
                        }
                    }
                    for s in 0..<8 { sumScaled += Int(Int8(truncatingIfNeeded: byte(blk, sc + s))) * sums[s] }
                }
                sumf += d * da * Float(sumScaled)
            }
        }
        return sumf
    }
}
