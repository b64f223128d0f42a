export declare const NODE_FLAGS: string[];
export declare const ALLOCATOR_ENV: Record<string, string>;
export declare function serviceEnv(env: Record<string, string | undefined>): Record<string, string>;
