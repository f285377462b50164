using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using QuantLab.Engine;

namespace QuantLab.Host.Lab;

/// <summary>
/// The lab's mutual TLS: a lab certificate authority (CA), node certificates it signs, and the check every node
/// makes of its peer in both directions: the peer's certificate must chain to the lab's CA (the CA is the only trust
/// root: the system's store plays no part), be valid now and be meant for TLS. A process without a certificate of
/// this CA cannot complete a handshake, so it cannot join, take a job or write a result. Certificates and keys are
/// PEM files; keys are written readable by their owner alone.
/// </summary>
public static class LabTls
{
    /// <summary>A node's TLS material, loaded and checked: its certificate with key, and the lab's CA.</summary>
    /// <param name="Subject">The node's identity (its certificate's subject), recorded with every result it produces.</param>
    public sealed record Credentials(X509Certificate2 Certificate, X509Certificate2 Authority, string Subject)
    {
        /// <summary>The peer check Akka.Remote runs on every TLS connection, inbound and outbound.</summary>
        public CertificateValidationCallback Validator => (peer, _, _, _, log) =>
        {
            var problem = Problem(peer, Authority, DateTimeOffset.UtcNow);
            if (problem is not null) log.Warning("TLS: refused the peer certificate {0}: {1}", peer?.Subject ?? "(none)", problem);
            return problem is null;
        };
    }

    /// <summary>The PEM files of a certificate and its key in <paramref name="directory"/>.</summary>
    public sealed record Files(string Certificate, string Key)
    {
        public static Files In(string directory, string name) => new(Path.Combine(directory, name + ".crt"), Path.Combine(directory, name + ".key"));
    }

    public const string AuthorityName = "ca";

    /// <summary>Creates a lab CA (ECDSA P-256, self-signed, valid <paramref name="years"/> years) in
    /// <paramref name="directory"/>: <c>ca.crt</c> (give it to every node) and <c>ca.key</c> (keep it where
    /// certificates are issued, only).</summary>
    public static Files CreateAuthority(string directory, string name, int years, DateTimeOffset now)
    {
        var files = Files.In(directory, AuthorityName);
        RefuseOverwrite(files);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}, O=QuantLab lab CA"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        using var certificate = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(years));
        Write(files, certificate, key);
        return files;
    }

    /// <summary>Issues a node certificate signed by the CA in <paramref name="authorityDirectory"/>: usable as TLS
    /// server and client (both ends of a remoting connection), subject CN=<paramref name="name"/>, with
    /// <paramref name="hosts"/> (names or IP addresses) as subject alternative names. Writes NAME.crt, NAME.key and a
    /// copy of ca.crt into <paramref name="directory"/>.</summary>
    public static Files Issue(string authorityDirectory, string name, IReadOnlyList<string> hosts, int days, string directory, DateTimeOffset now)
    {
        var authorityFiles = Files.In(authorityDirectory, AuthorityName);
        using var authority = LoadPair(authorityFiles, "--ca");
        if (!authority.HasPrivateKey) throw new BadInputException($"--ca {authorityDirectory}: {authorityFiles.Key} holds no private key");
        var files = Files.In(directory, name);
        RefuseOverwrite(files);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}, O=QuantLab lab node"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyAgreement, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));   // server and client authentication
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(name);
        foreach (var host in hosts)
            if (IPAddress.TryParse(host, out var ip)) names.AddIpAddress(ip);
            else names.AddDnsName(host);
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, true, false));
        var notAfter = now.AddDays(days);
        if (notAfter > authority.NotAfter) notAfter = authority.NotAfter;
        using var issued = request.Create(authority, now.AddMinutes(-5), notAfter, RandomNumberGenerator.GetBytes(16));
        Directory.CreateDirectory(directory);
        Write(files, issued, key);
        var caCopy = Path.Combine(directory, AuthorityName + ".crt");
        if (Path.GetFullPath(caCopy) != Path.GetFullPath(authorityFiles.Certificate))
            AtomicFile.WriteAllText(caCopy, File.ReadAllText(authorityFiles.Certificate));
        return files;
    }

    /// <summary>
    /// Loads a node's certificate, key and the lab's CA (the <c>QuantLab:Cluster:Tls</c> settings) and checks them
    /// before anything starts: the files exist, the key is the certificate's, the certificate is valid now and was
    /// issued by that CA. Each problem names its setting (exit 2).
    /// </summary>
    public static Credentials Load(string certificatePath, string keyPath, string authorityPath, DateTimeOffset now)
    {
        const string settings = "QuantLab:Cluster:Tls:";
        var certificate = LoadPair(new Files(certificatePath, keyPath), settings + "Certificate / " + settings + "Key");
        X509Certificate2 authority;
        try { authority = X509CertificateLoader.LoadCertificate(PemBytes(authorityPath, settings + "CaCertificate")); }
        catch (CryptographicException e) { throw new BadInputException($"{settings}CaCertificate {authorityPath}: not a PEM certificate: {e.Message}", e); }
        if (Problem(authority, authority, now) is { } caProblem)
            throw new BadInputException($"{settings}CaCertificate {authorityPath}: {caProblem}");
        if (Problem(certificate, authority, now) is { } problem)
            throw new BadInputException($"{settings}Certificate {certificatePath}: {problem}");
        return new Credentials(certificate, authority, certificate.Subject);
    }

    /// <summary>Why <paramref name="certificate"/> is not a valid lab certificate of <paramref name="authority"/>
    /// at <paramref name="now"/>; null when it is.</summary>
    public static string? Problem(X509Certificate2? certificate, X509Certificate2 authority, DateTimeOffset now)
    {
        if (certificate is null) return "no certificate";
        if (now < certificate.NotBefore.ToUniversalTime()) return $"not valid before {certificate.NotBefore.ToUniversalTime():u}";
        if (now > certificate.NotAfter.ToUniversalTime()) return $"expired at {certificate.NotAfter.ToUniversalTime():u}";
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(authority);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.VerificationTime = now.UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        if (chain.Build(certificate)
            && chain.ChainElements[^1].Certificate.RawDataMemory.Span.SequenceEqual(authority.RawDataMemory.Span))
            return null;
        var reasons = chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct();
        return $"not issued by the lab's CA ({authority.Subject}): {string.Join("; ", reasons)}";
    }

    /// <summary>A PEM certificate with its PEM key; a key that is not the certificate's is named.</summary>
    private static X509Certificate2 LoadPair(Files files, string setting)
    {
        PemBytes(files.Certificate, setting);
        PemBytes(files.Key, setting);
        try
        {
            // Through PKCS#12 so that TLS (SslStream) can use the key on every platform.
            using var pem = X509Certificate2.CreateFromPemFile(files.Certificate, files.Key);
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)   // a key of another certificate: ArgumentException
        {
            throw new BadInputException($"{setting}: {files.Certificate} with {files.Key}: {e.Message} (is the key this certificate's?)", e);
        }
    }

    private static byte[] PemBytes(string path, string setting)
    {
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BadInputException($"{setting}: cannot read {path}: {e.Message}", e);
        }
    }

    private static void Write(Files files, X509Certificate2 certificate, AsymmetricAlgorithm key)
    {
        AtomicFile.WriteAllText(files.Certificate, certificate.ExportCertificatePem() + "\n");
        AtomicFile.WriteAllText(files.Key, key.ExportPkcs8PrivateKeyPem() + "\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static void RefuseOverwrite(Files files)
    {
        foreach (var f in new[] { files.Certificate, files.Key })
            if (File.Exists(f)) throw new BadInputException($"{f} exists; nothing was written (remove it, or choose another --out)");
    }

    private static string Escape(string name)
    {
        if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_'))
            throw new BadInputException($"--name '{name}': allowed: letters, digits, '-', '.', '_' (1 to 64 characters)");
        return name;
    }
}
