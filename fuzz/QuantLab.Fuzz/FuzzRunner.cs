namespace QuantLab.Fuzz;

public static class FuzzRunner
{
    /// <summary>Runs one input; the exception it threw that the target does not document, or null.</summary>
    public static Exception? Undocumented(FuzzTarget target, byte[] input)
    {
        try
        {
            target.Run(input);
            return null;
        }
        catch (Exception e) when (target.Documented(e))
        {
            return null;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
