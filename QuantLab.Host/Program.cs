using QuantLab.Host.Cli;

return QuantLabCli.Run(args);
