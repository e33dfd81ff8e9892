"""vpclab: a local AWS VPC lab that carries real traffic."""

__version__ = "0.1.0"
