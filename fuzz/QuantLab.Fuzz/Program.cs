using QuantLab.Fuzz;
using SharpFuzz;

// quantlab-fuzz TARGET                  run under afl-fuzz (SharpFuzz's persistent loop); see fuzz/README.md
// quantlab-fuzz TARGET --replay PATH…   run files (or every file of directories) once each; exit 1 if any
//                                        throws an exception the target does not document
// quantlab-fuzz --seeds DIR              write each target's generated seed inputs under DIR/<target>/
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: quantlab-fuzz TARGET [--replay PATH...] | --seeds DIR");
    Console.WriteLine("targets:");
    foreach (var t in FuzzTargets.All) Console.WriteLine($"  {t.Name,-8} {t.Reads}");
    return args.Length == 0 ? 2 : 0;
}
if (args[0] == "--seeds")
{
    foreach (var (name, bytes) in FuzzTargets.Seeds())
    {
        var dir = Directory.CreateDirectory(Path.Combine(args[1], name)).FullName;
        File.WriteAllBytes(Path.Combine(dir, "generated-valid"), bytes);
    }
    return 0;
}
FuzzTarget target;
try { target = FuzzTargets.Get(args[0]); }
catch (ArgumentException e) { Console.Error.WriteLine(e.Message); return 2; }

if (args.Length > 1 && args[1] == "--replay")
{
    var files = args.Skip(2).SelectMany(p => Directory.Exists(p) ? Directory.GetFiles(p).Order(StringComparer.Ordinal).ToArray() : new[] { p }).ToList();
    int failures = 0;
    foreach (var file in files)
    {
        if (FuzzRunner.Undocumented(target, File.ReadAllBytes(file)) is { } e)
        {
            failures++;
            Console.Error.WriteLine($"{file}: {e.GetType().FullName}: {e.Message}\n{e.StackTrace}");
        }
    }
    Console.WriteLine($"{target.Name}: {files.Count} inputs, {failures} undocumented exceptions");
    return failures == 0 ? 0 : 1;
}

// Under afl-fuzz: a documented exception is a normal answer; anything else escapes and AFL records a crash.
Fuzzer.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    if (FuzzRunner.Undocumented(target, buffer.ToArray()) is { } e) throw new Exception($"{target.Name}: undocumented exception", e);
});
return 0;
