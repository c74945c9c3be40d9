/** The authorization suite (./auth-cases.ts), part 1 of 4: every fourth scoped operation from the first. */
import { defineAuthSuite } from "./auth-cases";

defineAuthSuite(0, 4);
