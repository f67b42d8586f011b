namespace NativeAdaBelief;

/// <summary>How weight decay is applied (always first, before the moments are updated).</summary>
public enum WeightDecayMode
{
    /// <summary>θ ← θ·(1 − α·λ), AdamW style (labml's and the official package's default).</summary>
    Decoupled = 0,

    /// <summary>θ ← θ·(1 − λ), independent of the learning rate (labml <c>absolute=True</c>, official <c>fixed_decay=True</c>).</summary>
    Absolute = 1,

    /// <summary>g ← g + λ·θ, classic L2 (<c>weight_decouple=False</c>). The caller's gradient buffer is never written.</summary>
    L2 = 2,
}
