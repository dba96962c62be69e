// AdamW as torch.optim.AdamW (decoupled weight decay: p ← p − lr·λ·p before the Adam step),
// with the linear warm-up / linear decay schedule of transformers' get_linear_schedule_with_warmup
// (step 0 of warm-up uses lr 0) and global-norm gradient clipping as torch.nn.utils.clip_grad_norm_.
import Foundation

public struct AdamW {
    public var learningRate: Float
    public var weightDecay: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public private(set) var step = 0
    private var m: [Float]
    private var v: [Float]

    public init(parameters: Int, learningRate: Float, weightDecay: Float) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: parameters)
        v = [Float](repeating: 0, count: parameters)
    }

    /// One update of `values` from `gradients` at learning rate `lr`; `decay` is 1 where weight decay applies;
    /// `rate`, when given, multiplies each parameter's learning rate (a torch parameter group with its own lr:
    /// its weight decay scales with it too).
    public mutating func update(values: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
                                decay: UnsafePointer<Float>, rate: UnsafePointer<Float>? = nil, count: Int, lr: Float) {
        step += 1
        let c1 = 1 - Float(Double(beta1).power(step)), c2 = 1 - Float(Double(beta2).power(step))
        let stepSize = lr / c1, c2Root = c2.squareRoot()
        let b1 = beta1, b2 = beta2, eps = epsilon, wd = lr * weightDecay
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                for i in 0..<count {
                    let g = gradients[i], r = rate?[i] ?? 1
                    values[i] -= r * wd * decay[i] * values[i]
                    m[i] = b1 * m[i] + (1 - b1) * g
                    v[i] = b2 * v[i] + (1 - b2) * g * g
                    values[i] -= r * stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
                }
            }
        }
    }

    /// The scheduled learning rate for 0-based `step` of `total`, with `warmup` warm-up steps.
    public static func linearSchedule(base: Float, step: Int, total: Int, warmup: Int) -> Float {
        if step < warmup { return base * Float(step) / Float(max(1, warmup)) }
        return base * max(0, Float(total - step) / Float(max(1, total - warmup)))
    }

    /// Scales `gradients` so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
    @discardableResult
    public static func clip(_ gradients: UnsafeMutablePointer<Float>, count: Int, maxNorm: Float) -> Float {
        var sum = 0.0
        for i in 0..<count { sum += Double(gradients[i]) * Double(gradients[i]) }
        let norm = Float(sum.squareRoot())
        if norm > maxNorm {
            let factor = maxNorm / (norm + 1e-6)
            for i in 0..<count { gradients[i] *= factor }
        }
        return norm
    }
}

private extension Double {
    func power(_ n: Int) -> Double { Foundation.pow(self, Double(n)) }
}
