import GatanDM
