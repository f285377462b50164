using TorchSharp;
using static TorchSharp.torch;

namespace QuantLab.Engine;

/// <summary>
/// Tensor operations with a number, and tensor + tensor, whose <see cref="Scalar"/> outlives the native call.
/// </summary>
/// <remarks>
/// TorchSharp 0.107 turns a number given to a tensor op (<c>t * 2.0</c>, <c>t.clamp(lo, hi)</c>, <c>t &gt;= lo</c>,
/// and the implicit alpha 1 of <c>a + b</c>) into a temporary Scalar and passes only its native handle: once the
/// handle is read the managed Scalar is unreachable, and a collection on another thread can finalize it, freeing
/// the native Scalar while libtorch still reads it. Seen here about once per full test suite, as libtorch's
/// "Expected false to be true" in <c>Scalar::toDouble</c> or <c>Scalar::toFloat</c> (TorchSharp PRs #1434 and
/// #1496, open, fix it upstream). Each helper here keeps its Scalar until the op has returned and then frees it;
/// every overload keeps the number's type (a long stays an integer Scalar, so int64 tensors stay int64).
/// Tensor temporaries have no such problem inside a dispose scope, which holds them until it ends.
/// Code that needs a Scalar of its own makes it with <c>using var s = x.ToScalar();</c> (TorchScalarLifetimeTests
/// fails on any implicit conversion to Scalar, and on tensor operators with a number, outside this class).
/// </remarks>
public static class ScalarOps
{
    /// <summary>The alpha of a + b, as TorchSharp's own <c>add(Tensor)</c> passes it (an int 1), but never finalized.</summary>
    private static readonly Scalar One = 1;

    /// <summary>a + b.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    public static Tensor Times(this Tensor t, double factor) => With(t, factor, static (x, s) => x.mul(s));
    public static Tensor Times(this Tensor t, float factor) => With(t, factor, static (x, s) => x.mul(s));
    public static Tensor Times(this Tensor t, long factor) => With(t, factor, static (x, s) => x.mul(s));

    public static Tensor DividedBy(this Tensor t, double divisor) => With(t, divisor, static (x, s) => x.div(s));

    /// <summary>t ≥ value, element-wise.</summary>
    public static Tensor AtLeast(this Tensor t, double value) => With(t, value, static (x, s) => x.ge(s));
    public static Tensor AtLeast(this Tensor t, long value) => With(t, value, static (x, s) => x.ge(s));

    /// <summary>t ≤ value, element-wise.</summary>
    public static Tensor AtMost(this Tensor t, double value) => With(t, value, static (x, s) => x.le(s));

    /// <summary>t &gt; value, element-wise.</summary>
    public static Tensor Above(this Tensor t, double value) => With(t, value, static (x, s) => x.gt(s));
    public static Tensor Above(this Tensor t, long value) => With(t, value, static (x, s) => x.gt(s));

    /// <summary>t &lt; value, element-wise.</summary>
    public static Tensor Below(this Tensor t, double value) => With(t, value, static (x, s) => x.lt(s));

    /// <summary>t ≠ value, element-wise.</summary>
    public static Tensor NotEqual(this Tensor t, long value) => With(t, value, static (x, s) => x.ne(s));

    /// <summary>t mod divisor with the divisor's sign (torch's remainder).</summary>
    public static Tensor Remainder(this Tensor t, long divisor) => With(t, divisor, static (x, s) => x.remainder(s));

    public static Tensor ClampTo(this Tensor t, double min, double max)
    {
        using Scalar low = min, high = max;
        return t.clamp(low, high);
    }

    public static Tensor ClampTo(this Tensor t, long min, long max)
    {
        using Scalar low = min, high = max;
        return t.clamp(low, high);
    }

    /// <summary>In place: t ← max(t, min).</summary>
    public static Tensor ClampMin_(this Tensor t, float min) => With(t, min, static (x, s) => x.clamp_min_(s));

    private static Tensor With(Tensor t, Scalar value, Func<Tensor, Scalar, Tensor> op)
    {
        try
        {
            return op(t, value);
        }
        finally
        {
            value.Dispose();
        }
    }
}
