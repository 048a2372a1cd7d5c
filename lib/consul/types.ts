/** Wire shapes exactly as Consul 1.8 returns them (only the fields we read). */

export interface WireKvPair {
  Key: string;
  Value: string | null;
  CreateIndex: number;
  ModifyIndex: number;
  LockIndex: number;
  Flags: number;
  Session?: string;
}

export interface WireHealthCheck {
  Node: string;
  CheckID: string;
  Name: string;
  Status: string;
  Notes?: string;
  Output?: string;
  ServiceID: string;
  ServiceName: string;
  ServiceTags?: string[] | null;
  Type?: string;
  ModifyIndex?: number;
}

export interface WireService {
  ID: string;
  Service: string;
  Tags: string[] | null;
  Port?: number;
  Address?: string;
  Meta?: Record<string, string> | null;
  EnableTagOverride?: boolean;
  Weights?: { Passing: number; Warning: number };
}

export interface WireHealthEntry {
  Node: { Node: string; Address: string; Datacenter: string };
  Service: WireService;
  Checks: WireHealthCheck[];
}

/** `/v1/agent/health/service/name/<svc>` element. */
export interface WireAgentServiceHealth {
  AggregatedStatus: string;
  Service: WireService;
  Checks: WireHealthCheck[];
}

export interface WireAgentSelf {
  Config: { Datacenter: string; NodeName: string; NodeID?: string; Version?: string };
}
